// Checkpoints of long runs (<run>/checkpoint/ in docs/cluster.md): one self-checking NPZ file per
// save, written so that a crash or a kill at any moment leaves a usable checkpoint behind, and read
// so that a damaged file is reported and skipped, never crashed on.
//
// Folder:  latest.npz     the newest checkpoint
//          previous.npz   the one before it (kept so that a damaged latest.npz costs one interval)
//          latest.npz.tmp.<pid>.<n>  a save in progress, or left by a crash: ignored by readers,
//                         removed by the next save (one writer per folder)
//
// File format, version 1: an ordinary uncompressed NPZ archive, so users can inspect it with
//   z = np.load("latest.npz"); z["w"]; json.loads(z["checkpoint.json"]); z["meta.json"].decode()
// Members, in this order:
//   <name>.npy       each array of Checkpoint::arrays, in order (f32 '<f4', f64 '<f8', i32 '<i4')
//   meta.json        Checkpoint::meta, byte for byte (np.load returns a non-.npy member as bytes)
//   checkpoint.json  the manifest, always the last member:
//                      {"format": "groove-checkpoint", "version": 1, "step": 1200,
//                       "members": [{"name": "w.npy", "bytes": 4224, "crc32": 3735928559}, ...,
//                                   {"name": "meta.json", "bytes": 17, "crc32": 123456789}],
//                       "total_bytes": 4241}
//                    members lists every other member in archive order with its uncompressed size
//                    and CRC-32; total_bytes is the sum of those sizes.
//
// What a load verifies (any failure makes the file unusable, with a message naming it):
//   - the ZIP structure: end record, central directory and local headers consistent and inside the
//     file (so any truncation fails), no encryption, known compression, no duplicate names;
//   - every member's data against the CRC-32 in the central directory;
//   - the manifest is the last member, is JSON with the fields above, format "groove-checkpoint",
//     version 1 and step >= 0;
//   - the archive's other members are exactly the manifest's list, in the same order, each with the
//     recorded size and CRC-32 (a missing, extra, reordered or replaced member fails), and the sizes
//     add up to total_bytes;
//   - exactly one meta.json; every other member is named <name>.npy and parses as an NPY array.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/npy.h"

namespace groove::sweep {

inline constexpr const char* kLatestCheckpoint = "latest.npz";
inline constexpr const char* kPreviousCheckpoint = "previous.npz";

struct Checkpoint {
  std::int64_t step = 0;            // updates done
  std::vector<NamedTensor> arrays;  // host tensors (params, optimizer state, ...), f32/f64/i32
  std::string meta;                 // JSON text (writer offsets, monitor state, config hash, ...)
};

// Writes `dir`/latest.npz atomically and keeps the former latest as `dir`/previous.npz (only when
// the former latest is itself a valid checkpoint, so a damaged latest never pushes out a good
// previous). Creates `dir` if missing. Array names must be non-empty, unique and free of '/'; the
// step must be >= 0. Errors name the path.
void save_checkpoint(const std::string& dir, const Checkpoint& ckpt);

struct LoadedCheckpoint {
  Checkpoint ckpt;
  std::string path;                   // the file it came from
  std::vector<std::string> warnings;  // why latest.npz was not used, when previous.npz was
};

// Loads the latest checkpoint in `dir`; nothing when `dir` or both files are missing. A corrupt,
// unreadable or missing latest falls back to previous with a warning that names the file and the
// problem; when neither is usable, throws groove::Error naming both files and problems.
std::optional<LoadedCheckpoint> load_checkpoint(const std::string& dir);

// Reads and verifies one checkpoint file (see above); throws groove::Error naming `path` and the
// problem.
Checkpoint read_checkpoint_file(const std::string& path);

}  // namespace groove::sweep
