// The compute stream is created non-blocking so it never serialises against
// the legacy default stream, which libraries and stray cudaMemcpy calls use.
#include "kernels/cuda/stream.h"

#include <atomic>
#include <mutex>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

namespace {

std::mutex g_init_mutex;
// Written once under the mutex; read lock-free by every kernel launch.
std::atomic<int> g_device{-1};
std::atomic<cudaStream_t> g_stream{nullptr};

}  // namespace

Status InitializeDevice(int device) {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (device < 0) return Status::InvalidArgument("InitializeDevice: device " + std::to_string(device) + " is negative");
  const int current = g_device.load(std::memory_order_acquire);
  if (current == device) return Status::OK();
  if (current != -1) {
    return Status::FailedPrecondition("InitializeDevice: this process already uses device " +
                                      std::to_string(current) + ", cannot switch to device " +
                                      std::to_string(device));
  }
  const int count = DeviceCount();
  if (device >= count) {
    return Status::InvalidArgument("InitializeDevice: device " + std::to_string(device) + " does not exist (" +
                                   std::to_string(count) + " CUDA devices visible)");
  }
  MERIDIAN_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t stream = nullptr;
  MERIDIAN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  g_stream.store(stream, std::memory_order_release);
  g_device.store(device, std::memory_order_release);
  return Status::OK();
}

cudaStream_t ComputeStream() { return g_stream.load(std::memory_order_acquire); }

int CurrentDevice() { return g_device.load(std::memory_order_acquire); }

}  // namespace meridian::cuda
