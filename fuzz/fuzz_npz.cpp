// libFuzzer target: NPY parsing (parse_npy on the bytes) and NPZ reading through the NPZ dataset
// loader (the bytes as an .npz file: read_npz, then every validation of load_npz_dataset).
// Mutated archives rarely pass the CRC-32 check, so the bytes are also read as a list of records
// [u8 array id][u16 length, little-endian][that many bytes of NPY], and the arrays that parse are
// written by write_npz (valid CRCs) and loaded: that reaches the loader's own validation.
// groove::Error is the expected outcome for malformed input; anything else (a crash, a sanitizer
// report, another exception) is a finding.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/npy.h"
#include "tasks/loaders.h"

namespace {

const char* const kArrayNames[] = {"X_train", "y_train", "w_train", "X_test", "y_test", "group_test"};

// Per-process files, so that parallel fuzzing jobs (-jobs=N) do not share them. In /dev/shm when
// it exists: write_npz fsyncs, which is free there.
std::string temp_file(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  const std::string base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : dir && *dir ? dir : "/tmp";
  return base + "/groove_fuzz_" + name + "_" + std::to_string(::getpid()) + ".npz";
}
// Both files live as long as the process and are removed when the fuzzer exits.
struct TempFiles {
  std::string raw = temp_file("raw"), records = temp_file("records");
  ~TempFiles() {
    std::remove(raw.c_str());
    std::remove(records.c_str());
  }
};
const TempFiles& files() {
  static const TempFiles f;
  return f;
}

void load(const std::string& path) {
  for (groove::DType dtype : {groove::DType::f32, groove::DType::f64}) {
    try {
      const groove::tasks::Dataset ds = groove::tasks::load_npz_dataset(path, dtype);
      (void)ds.size();
    } catch (const groove::Error&) {
    }
  }
}

void load_records(const std::uint8_t* data, std::size_t size) {
  std::vector<groove::NamedTensor> arrays;
  std::size_t pos = 0;
  while (pos + 3 <= size) {
    const char* name = kArrayNames[data[pos] % 6];
    const std::size_t len = std::min<std::size_t>(data[pos + 1] | (data[pos + 2] << 8), size - pos - 3);
    pos += 3;
    try {
      arrays.push_back({name, groove::parse_npy(data + pos, len, name)});
    } catch (const groove::Error&) {
    }
    pos += len;
  }
  if (arrays.empty()) return;
  try {
    groove::write_npz(files().records, arrays);
  } catch (const groove::Error&) {
    return;  // e.g. a name twice
  }
  load(files().records);
}

bool write_temp(const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(files().raw.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const groove::Tensor t = groove::parse_npy(data, size, "fuzz.npy");
    (void)t.numel();
  } catch (const groove::Error&) {
  }
  if (write_temp(data, size)) load(files().raw);
  load_records(data, size);
  return 0;
}
