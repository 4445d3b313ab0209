// OpenMP helpers for the CPU backend: parallel loops only when the work is worth a fork/join.
#pragma once

#include <cstdint>

namespace groove::cpu {

// Below this many elements an elementwise loop runs on one thread (a fork/join costs ~1-5 us).
inline constexpr std::int64_t kParallelElements = 1 << 15;

}  // namespace groove::cpu
