// NPY and NPZ files (numpy's formats), so users load groove's results with np.load in one line
// and hand groove data made in numpy / PyTorch.
//
// Reading: format versions 1.0, 2.0 and 3.0; little-endian, C-order arrays of float32 ('<f4'),
// float64 ('<f8') and int32 ('<i4'). Integer arrays numpy makes by default ('<i8', and '|u1',
// '|i1', '|b1', '<i2', '<u2', '<u4', '<u8') are converted to i32 when every value fits, else an
// error names the file, the array and the first value that does not fit. NPZ archives may be
// stored or deflated (np.savez / np.savez_compressed), with or without ZIP64 records.
// Malformed input (truncated file, wrong magic, bad header, Fortran order, big-endian or
// unsupported dtype, CRC mismatch) throws groove::Error naming the file (and the member), never
// crashes.
//
// Writing: NPY format 1.0 (2.0 when the header needs it); NPZ stored or deflated (zlib). Files
// are written atomically: to a temporary file in the same folder, fsync'd, then renamed over the
// target, so a reader never sees a half-written file and an existing file stays intact on error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/tensor.h"

namespace groove {

// Reads a .npy file into a host tensor.
Tensor read_npy(const std::string& path);
// Writes a tensor (any device; device tensors are copied to the host first) as .npy.
void write_npy(const std::string& path, const Tensor& tensor);

// The same formats in memory. `what` names the source in error messages (a file, an NPZ member).
Tensor parse_npy(const void* data, std::size_t bytes, const std::string& what);
std::string serialize_npy(const Tensor& tensor);

struct NamedTensor {
  std::string name;  // NPZ member name without the ".npy" suffix
  Tensor tensor;
};

enum class NpzCompression { stored, deflated };

// All arrays of an .npz archive, in archive order.
std::vector<NamedTensor> read_npz(const std::string& path);
// One array of an .npz archive; throws naming the file, the missing name and the names present.
Tensor read_npz_array(const std::string& path, const std::string& name);
void write_npz(const std::string& path, const std::vector<NamedTensor>& arrays,
               NpzCompression compression = NpzCompression::stored);

// Raw ZIP members, for archives that carry other members beside the arrays (a checkpoint's JSON;
// np.load returns a member that is not an .npy array as bytes). `name` is the full member name.
struct ZipMember {
  std::string name;   // "w.npy", "meta.json"
  std::string bytes;  // uncompressed content
};
// Every member of a ZIP archive, in archive order, after the same structural and CRC-32 checks
// as read_npz; member names need not end in ".npy".
std::vector<ZipMember> read_zip_members(const std::string& path);
// The ZIP archive of `members` in memory; `what` names it in error messages (empty or duplicate
// names, more than 65534 members, 4 GiB or more).
std::string serialize_zip(const std::vector<ZipMember>& members, NpzCompression compression, const std::string& what);
// The CRC-32 (zlib's, as stored in ZIP headers) of `bytes`.
std::uint32_t zip_crc32(std::string_view bytes);

// Writes `bytes` to `path` atomically (temporary file `path`.tmp.<pid>.<n> in the same folder,
// fsync, rename, fsync of the folder). Throws groove::Error naming the path on failure; the old
// file is then untouched. With `previous_path`, an existing `path` is renamed to it just before the
// new file takes its place (after the new file is on disk), so one of the two names always holds a
// complete file.
void write_file_atomic(const std::string& path, const std::string& bytes, const std::string& previous_path = {});

}  // namespace groove
