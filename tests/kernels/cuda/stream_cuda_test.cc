#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/stream.h"

namespace meridian {
namespace {

TEST(InitializeDevice, RefusesDevicesThatDoNotExist) {
  // Runs without a GPU too: there, every device number is refused.
  EXPECT_EQ(cuda::InitializeDevice(-1).code(), Status::Code::kInvalidArgument);
  if (cuda::DeviceCount() == 0) {
    EXPECT_EQ(cuda::InitializeDevice(0).code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(cuda::CurrentDevice(), -1);
    EXPECT_EQ(cuda::ComputeStream(), nullptr);
  }
}

TEST(InitializeDevice, CreatesOneNonBlockingStreamAndRefusesToSwitchDevices) {
  if (cuda::DeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  // Other tests in this process may have initialised already; device 0 is
  // the one any of them would pick.
  if (cuda::CurrentDevice() == -1) {
    EXPECT_EQ(cuda::ComputeStream(), nullptr);
  }
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  EXPECT_EQ(cuda::CurrentDevice(), 0);
  cudaStream_t stream = cuda::ComputeStream();
  ASSERT_NE(stream, nullptr);
  unsigned flags = 0;
  ASSERT_EQ(cudaStreamGetFlags(stream, &flags), cudaSuccess);
  EXPECT_EQ(flags & cudaStreamNonBlocking, (unsigned)cudaStreamNonBlocking);

  // Calling again with the same device keeps the same stream.
  ASSERT_TRUE(cuda::InitializeDevice(0).ok());
  EXPECT_EQ(cuda::ComputeStream(), stream);
  // Another device is refused whether or not it exists.
  EXPECT_EQ(cuda::InitializeDevice(1).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(cuda::CurrentDevice(), 0);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
}

}  // namespace
}  // namespace meridian
