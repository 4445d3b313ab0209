// Checkpoint files: the self-checking NPZ format and the crash-safe save protocol (checkpoint.h).
#include "sweep/checkpoint.h"

#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "runtime/error.h"

namespace groove::sweep {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "groove-checkpoint";
constexpr int kVersion = 1;
constexpr const char* kManifest = "checkpoint.json";
constexpr const char* kMeta = "meta.json";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::string& dir, const char* name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

std::string member_names(const std::vector<ZipMember>& members) {
  std::string s;
  for (const ZipMember& m : members) s += (s.empty() ? "" : ", ") + printable(m.name);
  return s.empty() ? "(none)" : s;
}

// The manifest's value `key` as a non-negative integer; anything else is corruption.
std::uint64_t manifest_uint(const json& object, const char* key, const std::string& what) {
  const auto it = object.find(key);
  GROOVE_CHECK(it != object.end(), what, ": no \"", key, "\" field");
  GROOVE_CHECK(it->is_number_unsigned() || (it->is_number_integer() && it->get<std::int64_t>() >= 0), what, ": \"", key,
               "\" is ", printable(it->dump()), ", not a non-negative integer");
  return it->get<std::uint64_t>();
}

// Removes temporary files of saves that never finished (a crash, a kill -9). Best effort: a file
// that cannot be removed is only wasted space, never read.
void remove_stale_temp_files(const std::string& dir) {
  const std::string prefix = std::string(kLatestCheckpoint) + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

bool is_valid_checkpoint(const std::string& path) {
  try {
    (void)read_checkpoint_file(path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

Checkpoint read_checkpoint_file(const std::string& path) {
  // Structure and per-member CRC-32 (read_zip_members throws naming the path).
  std::vector<ZipMember> members = read_zip_members(path);
  GROOVE_CHECK(!members.empty() && members.back().name == kManifest, path,
               ": not a groove checkpoint (its last member is not ", kManifest, "; members: ", member_names(members),
               ")");
  const std::string what = path + " (" + kManifest + ")";
  json manifest;
  try {
    manifest = json::parse(members.back().bytes);
  } catch (const json::exception& e) {
    GROOVE_THROW(what, ": not valid JSON: ", printable(e.what()));
  }
  members.pop_back();

  Checkpoint ckpt;
  try {
    GROOVE_CHECK(manifest.is_object(), what, ": not a JSON object");
    const auto format = manifest.find("format");
    GROOVE_CHECK(format != manifest.end() && format->is_string() && format->get<std::string>() == kFormat, what,
                 ": \"format\" is not \"", kFormat, "\"");
    const std::uint64_t version = manifest_uint(manifest, "version", what);
    GROOVE_CHECK(version == kVersion, what, ": format version ", version, "; this groove reads version ", kVersion,
                 (version > kVersion ? " (written by a newer groove)" : ""));
    const std::uint64_t step = manifest_uint(manifest, "step", what);
    GROOVE_CHECK(step <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), what, ": step ", step,
                 " overflows int64");
    ckpt.step = static_cast<std::int64_t>(step);

    // The member list catches what per-member CRCs cannot: a member missing, added or swapped.
    const auto list = manifest.find("members");
    GROOVE_CHECK(list != manifest.end() && list->is_array(), what, ": no \"members\" list");
    GROOVE_CHECK(list->size() == members.size(), what, ": lists ", list->size(), " members but the archive holds ",
                 members.size(), " besides the manifest (", member_names(members), ")");
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < members.size(); ++i) {
      const json& entry = (*list)[i];
      const std::string entry_what = what + " members[" + std::to_string(i) + "]";
      GROOVE_CHECK(entry.is_object(), entry_what, ": not an object");
      const auto name = entry.find("name");
      GROOVE_CHECK(name != entry.end() && name->is_string(), entry_what, ": no \"name\" string");
      const ZipMember& m = members[i];
      GROOVE_CHECK(name->get<std::string>() == m.name, entry_what, ": names '", printable(name->get<std::string>()),
                   "' but the archive's member ", i, " is '", printable(m.name), "'");
      const std::uint64_t bytes = manifest_uint(entry, "bytes", entry_what);
      GROOVE_CHECK(bytes == m.bytes.size(), path, " (member '", printable(m.name), "'): ", m.bytes.size(),
                   " bytes but the manifest records ", bytes);
      const std::uint64_t crc = manifest_uint(entry, "crc32", entry_what);
      GROOVE_CHECK(crc == zip_crc32(m.bytes), path, " (member '", printable(m.name),
                   "'): CRC-32 differs from the manifest's");
      total += bytes;
    }
    GROOVE_CHECK(total == manifest_uint(manifest, "total_bytes", what), what, ": \"total_bytes\" is not ", total,
                 ", the sum of the members' sizes");
  } catch (const json::exception& e) {
    GROOVE_THROW(what, ": malformed manifest: ", printable(e.what()));
  }

  bool have_meta = false;
  for (ZipMember& m : members) {
    if (m.name == kMeta) {
      GROOVE_CHECK(!have_meta, path, ": two ", kMeta, " members");
      have_meta = true;
      ckpt.meta = std::move(m.bytes);
      continue;
    }
    GROOVE_CHECK(ends_with(m.name, ".npy") && m.name.size() > 4, path, " (member '", printable(m.name),
                 "'): neither an .npy array nor ", kMeta);
    Tensor t = parse_npy(m.bytes.data(), m.bytes.size(), path + " (member '" + printable(m.name) + "')");
    ckpt.arrays.push_back({m.name.substr(0, m.name.size() - 4), std::move(t)});
  }
  GROOVE_CHECK(have_meta, path, ": no ", kMeta, " member");
  return ckpt;
}

void save_checkpoint(const std::string& dir, const Checkpoint& ckpt) {
  GROOVE_CHECK(!dir.empty(), "save_checkpoint: empty folder name");
  const std::string latest = join(dir, kLatestCheckpoint);
  GROOVE_CHECK(ckpt.step >= 0, "checkpoint '", latest, "': negative step ", ckpt.step);
  std::set<std::string> names;
  for (const NamedTensor& a : ckpt.arrays) {
    GROOVE_CHECK(!a.name.empty(), "checkpoint '", latest, "': an array has an empty name");
    GROOVE_CHECK(a.name.find('/') == std::string::npos, "checkpoint '", latest, "': array name '", printable(a.name),
                 "' contains '/'");
    GROOVE_CHECK(names.insert(a.name).second, "checkpoint '", latest, "': duplicate array name '", printable(a.name),
                 "'");
    GROOVE_CHECK(a.tensor.defined(), "checkpoint '", latest, "': array '", printable(a.name), "' is undefined");
  }

  std::vector<ZipMember> members;
  members.reserve(ckpt.arrays.size() + 2);
  for (const NamedTensor& a : ckpt.arrays) members.push_back({a.name + ".npy", serialize_npy(a.tensor)});
  members.push_back({kMeta, ckpt.meta});
  json list = json::array();
  std::uint64_t total = 0;
  for (const ZipMember& m : members) {
    list.push_back({{"name", m.name}, {"bytes", m.bytes.size()}, {"crc32", zip_crc32(m.bytes)}});
    total += m.bytes.size();
  }
  const json manifest = {{"format", kFormat},
                         {"version", kVersion},
                         {"step", ckpt.step},
                         {"members", std::move(list)},
                         {"total_bytes", total}};
  members.push_back({kManifest, manifest.dump(1) + "\n"});
  const std::string bytes = serialize_zip(members, NpzCompression::stored, "checkpoint '" + latest + "'");

  std::error_code ec;
  fs::create_directories(dir, ec);
  GROOVE_CHECK(!ec, "cannot create the checkpoint folder '", dir, "': ", ec.message());
  GROOVE_CHECK(fs::is_directory(dir, ec), "checkpoint folder '", dir, "' is not a folder");
  remove_stale_temp_files(dir);

  // Why a crash at any moment leaves a valid checkpoint: write_file_atomic writes the new file
  // under a temporary name and fsyncs it, then renames latest -> previous, then temp -> latest,
  // then fsyncs the folder. Each rename is atomic and moves a name to a file that is complete on
  // disk, so whichever renames survive a crash (even out of order), every name points at a whole
  // file: both old files, or the old latest under previous (latest missing: the loader falls back
  // to previous), or the new latest beside the old one. Rotating only a *valid* latest keeps this
  // true when latest.npz was damaged after it was written: the good previous then stays, and the
  // damaged file is simply replaced.
  const bool rotate = fs::exists(latest, ec) && is_valid_checkpoint(latest);
  write_file_atomic(latest, bytes, rotate ? join(dir, kPreviousCheckpoint) : std::string());
}

std::optional<LoadedCheckpoint> load_checkpoint(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (st.type() == fs::file_type::not_found) return std::nullopt;
  GROOVE_CHECK(!ec, "cannot read the checkpoint folder '", dir, "': ", ec.message());
  GROOVE_CHECK(fs::is_directory(st), "checkpoint folder '", dir, "' is not a folder");

  const std::string latest = join(dir, kLatestCheckpoint), previous = join(dir, kPreviousCheckpoint);
  // Each file gives a checkpoint or a problem ("" = the file does not exist).
  auto attempt = [](const std::string& path, std::string* problem) -> std::optional<Checkpoint> {
    std::error_code e;
    const fs::file_status s = fs::symlink_status(path, e);
    if (s.type() == fs::file_type::not_found) {
      *problem = "";
      return std::nullopt;
    }
    try {
      return read_checkpoint_file(path);
    } catch (const Error& err) {
      *problem = err.message();
      return std::nullopt;
    }
  };
  std::string latest_problem, previous_problem;
  if (auto ckpt = attempt(latest, &latest_problem)) return LoadedCheckpoint{std::move(*ckpt), latest, {}};
  const bool latest_missing = latest_problem.empty();
  if (latest_missing) latest_problem = "'" + latest + "' does not exist";
  auto ckpt = attempt(previous, &previous_problem);
  if (ckpt) {
    const std::string warning = "latest checkpoint unusable (" + latest_problem + "); resuming from '" + previous +
                                "' (step " + std::to_string(ckpt->step) + ") instead";
    return LoadedCheckpoint{std::move(*ckpt), previous, {warning}};
  }
  if (latest_missing && previous_problem.empty()) return std::nullopt;
  if (previous_problem.empty()) previous_problem = "'" + previous + "' does not exist";
  GROOVE_THROW("no usable checkpoint in '", dir, "': ", latest_problem, "; ", previous_problem);
}

}  // namespace groove::sweep
