// GROOVE_HD marks functions compiled for both the host and the device, so the CPU backend and its
// tests run the exact per-element math the CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define GROOVE_HD __host__ __device__
#define GROOVE_DEVICE_CODE 1
#else
#define GROOVE_HD
#define GROOVE_DEVICE_CODE 0
#endif
