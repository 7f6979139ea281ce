// Owning device allocation (cudaMalloc; never managed memory). Movable, not
// copyable. Allocation failures come back as Status naming the size.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "common/status.h"
#include "kernels/cuda/cuda_check.h"

namespace meridian::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() { Free(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      Free();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // Replaces the allocation with one of n elements (contents undefined).
  Status Allocate(size_t n) {
    Free();
    if (n == 0) return Status::OK();
    const cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&data_), n * sizeof(T));
    if (err != cudaSuccess) {
      data_ = nullptr;
      return Status::Internal("cudaMalloc of " + std::to_string(n * sizeof(T)) + " bytes failed: " +
                              cudaGetErrorString(err));
    }
    size_ = n;
    return Status::OK();
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  void Free() {
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace meridian::cuda
