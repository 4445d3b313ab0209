// NPY / NPZ reading and writing (numpy's file formats), hardened against malformed input.
#include "runtime/npy.h"

#define ZLIB_CONST  // makes z_stream::next_in const, so inputs need no const_cast
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <string_view>
#include <type_traits>

namespace groove {

// The formats are little-endian and the data is copied with memcpy, so the host must be too.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.cpp assumes a little-endian host");
#endif

namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// ---------------------------------------------------------------------------------------------
// Little-endian byte access

std::uint16_t get_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t get_u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t get_u64(const unsigned char* p) {
  return static_cast<std::uint64_t>(get_u32(p)) | (static_cast<std::uint64_t>(get_u32(p + 4)) << 32);
}
void put_u16(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put_u32(std::string& out, std::uint64_t v) {
  put_u16(out, static_cast<std::uint32_t>(v & 0xffff));
  put_u16(out, static_cast<std::uint32_t>((v >> 16) & 0xffff));
}

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string read_whole_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    GROOVE_THROW("cannot read '", path, "': ", errno_text(errno));
  }
  GROOVE_CHECK(S_ISREG(st.st_mode), "cannot read '", path, "': not a regular file");
  std::ifstream in(path, std::ios::binary);
  GROOVE_CHECK(in.is_open(), "cannot open '", path, "' for reading: ", errno_text(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  GROOVE_CHECK(size >= 0, "cannot read '", path, "': cannot determine its size");
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (size > 0) in.read(bytes.data(), size);
  GROOVE_CHECK(in.good() && in.gcount() == size, "cannot read '", path, "': read ", in.gcount(), " of ", size,
               " bytes");
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// The NPY header: a Python dict literal. A small literal parser (not a regex) so that key order,
// whitespace, trailing commas and Python 2's "3L" integers are all accepted.

struct PyValue {
  enum class Kind { string, integer, boolean, none, tuple, list, dict };
  Kind kind = Kind::none;
  std::string text;                                      // string
  std::int64_t integer = 0;                              // integer
  bool boolean = false;                                  // boolean
  std::vector<PyValue> items;                            // tuple, list
  std::vector<std::pair<std::string, PyValue>> entries;  // dict
};

class LiteralParser {
 public:
  LiteralParser(std::string_view text, const std::string& what) : text_(text), what_(what) {}

  PyValue parse() {
    skip_space();
    PyValue v = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the dictionary");
    return v;
  }

 private:
  // Deep nesting is never legitimate here; the limit keeps hostile headers off the stack.
  static constexpr int kMaxDepth = 16;

  [[noreturn]] void fail(const std::string& why) const {
    GROOVE_THROW(what_, ": malformed NPY header (", why, " at offset ", pos_, "): \"", printable(text_), "\"");
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  PyValue value(int depth) {
    if (depth > kMaxDepth) fail("nested too deeply");
    const char c = peek();
    if (c == '{') return dict(depth);
    if (c == '(') return sequence(depth, ')', PyValue::Kind::tuple);
    if (c == '[') return sequence(depth, ']', PyValue::Kind::list);
    if (c == '\'' || c == '"') return string();
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return integer();
    if (std::isalpha(static_cast<unsigned char>(c))) return keyword();
    fail(at_end() ? "unexpected end" : "unexpected character");
  }

  PyValue dict(int depth) {
    PyValue v;
    v.kind = PyValue::Kind::dict;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      PyValue key = value(depth + 1);
      if (key.kind != PyValue::Kind::string) fail("dictionary key is not a string");
      skip_space();
      expect(':');
      skip_space();
      PyValue item = value(depth + 1);
      for (const auto& e : v.entries) {
        if (e.first == key.text) fail("duplicate key '" + printable(key.text) + "'");
      }
      v.entries.emplace_back(std::move(key.text), std::move(item));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    ++pos_;
    return v;
  }

  PyValue sequence(int depth, char close, PyValue::Kind kind) {
    PyValue v;
    v.kind = kind;
    ++pos_;
    bool comma = false;
    for (;;) {
      skip_space();
      if (peek() == close) break;
      v.items.push_back(value(depth + 1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        comma = true;
        continue;
      }
      if (peek() != close) fail(std::string("expected ',' or '") + close + "'");
    }
    ++pos_;
    // As in Python, "(3)" is a parenthesized 3, not a tuple; only "(3,)" is.
    if (kind == PyValue::Kind::tuple && v.items.size() == 1 && !comma) return std::move(v.items[0]);
    return v;
  }

  PyValue string() {
    PyValue v;
    v.kind = PyValue::Kind::string;
    const char quote = peek();
    ++pos_;
    for (;;) {
      if (at_end()) fail("unterminated string");
      char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (at_end()) fail("unterminated string");
        c = text_[pos_++];
      }
      v.text.push_back(c);
    }
    return v;
  }

  PyValue integer() {
    PyValue v;
    v.kind = PyValue::Kind::integer;
    bool negative = false;
    if (peek() == '-' || peek() == '+') negative = text_[pos_++] == '-';
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a digit");
    std::int64_t n = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int d = peek() - '0';
      if (n > (kInt64Max - d) / 10) fail("integer too large");
      n = n * 10 + d;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long literal
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("expected an integer");
    v.integer = negative ? -n : n;
    return v;
  }

  PyValue keyword() {
    const std::size_t start = pos_;
    while (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_')) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    PyValue v;
    if (word == "True" || word == "False") {
      v.kind = PyValue::Kind::boolean;
      v.boolean = word == "True";
    } else if (word == "None") {
      v.kind = PyValue::Kind::none;
    } else {
      pos_ = start;
      fail("unknown name '" + printable(word) + "'");
    }
    return v;
  }

  std::string_view text_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

// The element types a file may hold, and what groove stores them as.
enum class SourceKind { f32, f64, i32, b1, i8, u8, i16, u16, u32, i64, u64 };

struct Source {
  SourceKind kind;
  std::size_t itemsize;
  DType dtype;
};

Source parse_descr(const std::string& descr, const std::string& what) {
  const std::string supported = "supported: '<f4', '<f8', '<i4', and integer/bool types converted to int32";
  std::size_t pos = 0;
  char order = '=';
  if (!descr.empty() && std::strchr("<>=|", descr[0]) != nullptr) order = descr[pos++];
  const char code = pos < descr.size() ? descr[pos++] : '\0';
  std::size_t size = 0;
  const std::size_t digits_at = pos;
  while (pos < descr.size() && pos - digits_at < 3 && descr[pos] >= '0' && descr[pos] <= '9') {
    size = size * 10 + static_cast<std::size_t>(descr[pos++] - '0');
  }
  const bool well_formed = pos == descr.size() && pos > digits_at;
  auto kind_of = [&]() -> int {
    if (!well_formed) return -1;
    switch (code) {
      case 'f':
        return size == 4 ? int(SourceKind::f32) : size == 8 ? int(SourceKind::f64) : -1;
      case 'i':
        return size == 1   ? int(SourceKind::i8)
               : size == 2 ? int(SourceKind::i16)
               : size == 4 ? int(SourceKind::i32)
               : size == 8 ? int(SourceKind::i64)
                           : -1;
      case 'u':
        return size == 1   ? int(SourceKind::u8)
               : size == 2 ? int(SourceKind::u16)
               : size == 4 ? int(SourceKind::u32)
               : size == 8 ? int(SourceKind::u64)
                           : -1;
      case 'b':
        return size == 1 ? int(SourceKind::b1) : -1;
      default:
        return -1;
    }
  };
  const int kind = kind_of();
  GROOVE_CHECK(kind >= 0, what, ": unsupported dtype '", printable(descr), "' (", supported, ")");
  // One-byte types have no byte order, so '>' is harmless there.
  GROOVE_CHECK(order != '>' || size == 1, what, ": big-endian dtype '", descr,
               "' is not supported; convert it with a.astype(a.dtype.newbyteorder('<'))");
  const auto k = static_cast<SourceKind>(kind);
  const DType dtype = k == SourceKind::f32 ? DType::f32 : k == SourceKind::f64 ? DType::f64 : DType::i32;
  return {k, size, dtype};
}

template <typename S>
void convert_to_i32(const unsigned char* src, std::int64_t n, std::int32_t* dst, const std::string& what,
                    const std::string& descr) {
  for (std::int64_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * static_cast<std::int64_t>(sizeof(S)), sizeof(S));
    if constexpr (sizeof(S) >= 4 && std::is_signed_v<S>) {
      const std::int64_t w = v;
      GROOVE_CHECK(w >= std::numeric_limits<std::int32_t>::min() && w <= std::numeric_limits<std::int32_t>::max(), what,
                   ": ", descr, " value ", w, " at flat index ", i,
                   " does not fit in int32 (groove reads integer arrays as int32)");
    } else if constexpr (sizeof(S) >= 4) {
      const std::uint64_t w = v;
      GROOVE_CHECK(w <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()), what, ": ", descr,
                   " value ", w, " at flat index ", i, " does not fit in int32 (groove reads integer arrays as int32)");
    }
    dst[i] = static_cast<std::int32_t>(v);
  }
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i32:
      return "<i4";
  }
  GROOVE_THROW("NPY: unknown dtype");
}

std::string shape_repr(const Shape& shape) {
  std::string s = "(";
  for (int i = 0; i < shape.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.ndim() == 1) s += ",";
  return s + ")";
}

// ---------------------------------------------------------------------------------------------
// ZIP (for NPZ)

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::size_t kLocalSize = 30, kCentralSize = 46, kEocdSize = 22;
constexpr std::size_t kZip64EocdSize = 56, kZip64LocatorSize = 20;
constexpr std::uint32_t kMax32 = 0xffffffffu;
constexpr std::uint32_t kMax16 = 0xffffu;
// zlib's avail_in / avail_out are 32-bit; larger buffers go through in chunks of this size.
constexpr std::size_t kZlibChunk = std::size_t{1} << 30;
// Deflate cannot compress better than about 1032:1, so a larger claimed ratio is a lie; checking it
// keeps a corrupt size field from causing a huge allocation.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

struct ZipEntry {
  std::string name;  // full member name, "x.npy"
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t uncompressed = 0;
  std::uint64_t local_offset = 0;
};

struct ZipArchive {
  std::string path;
  std::string bytes;
  std::vector<ZipEntry> entries;
};

std::string member_what(const std::string& path, const std::string& member) {
  return path + " (member '" + printable(member) + "')";
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
bool in_bounds(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

// arrays_only: every member must be an .npy array (an NPZ archive); otherwise any flat name is
// accepted (archives that carry raw members such as JSON beside the arrays).
ZipArchive open_zip(const std::string& path, bool arrays_only) {
  ZipArchive zip;
  zip.path = path;
  zip.bytes = read_whole_file(path);
  const auto* base = reinterpret_cast<const unsigned char*>(zip.bytes.data());
  const std::uint64_t size = zip.bytes.size();

  // The EOCD record ends the archive, possibly followed by a comment of up to 64 KiB.
  GROOVE_CHECK(size >= kEocdSize, path, ": not a ZIP/NPZ archive (", size,
               " bytes, too short for the end-of-central-directory record)");
  std::uint64_t eocd = size;
  const std::uint64_t lowest = size - kEocdSize > kMax16 ? size - kEocdSize - kMax16 : 0;
  for (std::uint64_t p = size - kEocdSize + 1; p-- > lowest;) {
    if (get_u32(base + p) == kEocdSig && p + kEocdSize + get_u16(base + p + 20) <= size) {
      eocd = p;
      break;
    }
  }
  GROOVE_CHECK(eocd != size, path,
               ": not a ZIP/NPZ archive (no end-of-central-directory record; truncated or not a zip file)");
  const unsigned char* e = base + eocd;
  GROOVE_CHECK(get_u16(e + 4) == 0 && get_u16(e + 6) == 0, path, ": multi-disk ZIP archives are not supported");
  std::uint64_t count = get_u16(e + 10);
  std::uint64_t cd_size = get_u32(e + 12);
  std::uint64_t cd_offset = get_u32(e + 16);

  // np.savez writes ZIP64 records; when present their values replace the 16/32-bit ones.
  if (eocd >= kZip64LocatorSize && get_u32(base + eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    const std::uint64_t z64 = get_u64(base + eocd - kZip64LocatorSize + 8);
    GROOVE_CHECK(in_bounds(z64, kZip64EocdSize, size) && get_u32(base + z64) == kZip64EocdSig, path,
                 ": corrupted ZIP64 end-of-central-directory record (offset ", z64, ", archive size ", size, ")");
    count = get_u64(base + z64 + 32);
    cd_size = get_u64(base + z64 + 40);
    cd_offset = get_u64(base + z64 + 48);
  }
  GROOVE_CHECK(in_bounds(cd_offset, cd_size, size), path, ": central directory (offset ", cd_offset, ", ", cd_size,
               " bytes) extends past the end of the archive (", size, " bytes); truncated?");
  GROOVE_CHECK(count <= cd_size / kCentralSize, path, ": the archive claims ", count,
               " members but its central directory has room for at most ", cd_size / kCentralSize);

  zip.entries.reserve(static_cast<std::size_t>(count));
  std::uint64_t p = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  std::set<std::string> names;
  for (std::uint64_t i = 0; i < count; ++i) {
    GROOVE_CHECK(in_bounds(p, kCentralSize, cd_end) && get_u32(base + p) == kCentralSig, path,
                 ": corrupted central directory (entry ", i, " at offset ", p, ")");
    const unsigned char* c = base + p;
    const std::uint64_t name_len = get_u16(c + 28), extra_len = get_u16(c + 30), comment_len = get_u16(c + 32);
    GROOVE_CHECK(in_bounds(p + kCentralSize, name_len + extra_len + comment_len, cd_end), path,
                 ": corrupted central directory (entry ", i, " extends past the directory)");
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    entry.flags = get_u16(c + 8);
    entry.method = get_u16(c + 10);
    entry.crc = get_u32(c + 16);
    entry.compressed = get_u32(c + 20);
    entry.uncompressed = get_u32(c + 24);
    entry.local_offset = get_u32(c + 42);
    const std::string what = member_what(path, entry.name);

    // The ZIP64 extra field holds, in this order, only the values whose 32-bit field is 0xffffffff.
    const bool need_usize = entry.uncompressed == kMax32, need_csize = entry.compressed == kMax32;
    const bool need_offset = entry.local_offset == kMax32;
    if (need_usize || need_csize || need_offset) {
      const unsigned char* x = c + kCentralSize + name_len;
      const unsigned char* x_end = x + extra_len;
      bool found = false;
      while (x_end - x >= 4) {
        const std::uint16_t id = get_u16(x), len = get_u16(x + 2);
        GROOVE_CHECK(len <= x_end - x - 4, what, ": malformed extra field in the central directory");
        if (id == 0x0001) {
          const unsigned char* f = x + 4;
          const unsigned char* f_end = f + len;
          auto take = [&](std::uint64_t* out) {
            GROOVE_CHECK(f_end - f >= 8, what, ": ZIP64 extra field is too short");
            *out = get_u64(f);
            f += 8;
          };
          if (need_usize) take(&entry.uncompressed);
          if (need_csize) take(&entry.compressed);
          if (need_offset) take(&entry.local_offset);
          found = true;
          break;
        }
        x += 4 + len;
      }
      GROOVE_CHECK(found, what, ": a size or offset is 0xffffffff but there is no ZIP64 extra field");
    }

    GROOVE_CHECK((entry.flags & 0x41) == 0, what, ": encrypted members are not supported");
    GROOVE_CHECK(!arrays_only || (entry.name.size() > 4 && entry.name.compare(entry.name.size() - 4, 4, ".npy") == 0),
                 what, ": not an .npy array (every member of an NPZ archive must be named <name>.npy)");
    GROOVE_CHECK(!entry.name.empty(), what, ": a member has an empty name");
    GROOVE_CHECK(names.insert(entry.name).second, what, ": the archive holds this member twice");
    zip.entries.push_back(std::move(entry));
    p += kCentralSize + name_len + extra_len + comment_len;
  }
  return zip;
}

std::uint32_t crc32_of(const unsigned char* data, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const std::size_t chunk = std::min(n, kZlibChunk);
    crc = crc32(crc, data, static_cast<uInt>(chunk));
    data += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

struct InflateStream {
  z_stream zs{};
  bool ready = false;
  ~InflateStream() {
    if (ready) inflateEnd(&zs);
  }
};

std::string inflate_raw(const unsigned char* in, std::uint64_t in_size, std::uint64_t out_size,
                        const std::string& what) {
  std::string out(static_cast<std::size_t>(out_size), '\0');
  InflateStream s;
  GROOVE_CHECK(inflateInit2(&s.zs, -MAX_WBITS) == Z_OK, what, ": zlib inflateInit2 failed");
  s.ready = true;
  auto* op = reinterpret_cast<unsigned char*>(out.data());
  std::uint64_t in_left = in_size, out_left = out_size;
  for (;;) {
    if (s.zs.avail_in == 0 && in_left > 0) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(in_left, kZlibChunk));
      s.zs.next_in = in;
      s.zs.avail_in = static_cast<uInt>(chunk);
      in += chunk;
      in_left -= chunk;
    }
    if (s.zs.avail_out == 0 && out_left > 0) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(out_left, kZlibChunk));
      s.zs.next_out = op;
      s.zs.avail_out = static_cast<uInt>(chunk);
      op += chunk;
      out_left -= chunk;
    }
    const int rc = inflate(&s.zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      GROOVE_CHECK(!(s.zs.avail_in == 0 && in_left == 0), what,
                   ": compressed data ends before the end of the deflate stream (truncated or corrupted)");
      GROOVE_CHECK(!(s.zs.avail_out == 0 && out_left == 0), what, ": decompresses to more than the ", out_size,
                   " bytes the central directory declares");
    }
    GROOVE_THROW(what, ": inflate failed (zlib error ", rc, s.zs.msg ? std::string(": ") + s.zs.msg : "",
                 "); the archive is corrupted");
  }
  const std::uint64_t produced = out_size - out_left - s.zs.avail_out;
  GROOVE_CHECK(produced == out_size, what, ": decompresses to ", produced, " bytes but the central directory declares ",
               out_size);
  return out;
}

// The member's uncompressed bytes after every structural check and the CRC-32 check. Stored
// members are returned in place (no copy); deflated ones are inflated into *inflated.
std::string_view member_bytes(const ZipArchive& zip, const ZipEntry& entry, std::string* inflated) {
  const std::string what = member_what(zip.path, entry.name);
  const auto* base = reinterpret_cast<const unsigned char*>(zip.bytes.data());
  const std::uint64_t size = zip.bytes.size();
  GROOVE_CHECK(in_bounds(entry.local_offset, kLocalSize, size), what, ": local header offset ", entry.local_offset,
               " is past the end of the archive (", size, " bytes)");
  const unsigned char* h = base + entry.local_offset;
  GROOVE_CHECK(get_u32(h) == kLocalSig, what, ": bad local header signature at offset ", entry.local_offset);
  // The local header's own name and extra lengths locate the data; its extra field (ZIP64 sizes from
  // np.savez's force_zip64) often differs from the central directory's.
  const std::uint64_t name_len = get_u16(h + 26), extra_len = get_u16(h + 28);
  const std::uint64_t data_offset = entry.local_offset + kLocalSize + name_len + extra_len;
  GROOVE_CHECK(
      data_offset <= size && std::string_view(reinterpret_cast<const char*>(h + kLocalSize), name_len) == entry.name,
      what, ": local header does not match the central directory");
  GROOVE_CHECK((get_u16(h + 6) & 0x41) == 0, what, ": encrypted members are not supported");
  GROOVE_CHECK(in_bounds(data_offset, entry.compressed, size), what, ": data (offset ", data_offset, ", ",
               entry.compressed, " bytes) extends past the end of the archive (", size, " bytes); truncated?");

  const unsigned char* data = base + data_offset;
  if (entry.method == 0) {
    GROOVE_CHECK(entry.compressed == entry.uncompressed, what, ": stored member has compressed size ", entry.compressed,
                 " but uncompressed size ", entry.uncompressed);
  } else if (entry.method == 8) {
    GROOVE_CHECK(entry.uncompressed / kMaxDeflateRatio <= entry.compressed + 1, what, ": declares ", entry.uncompressed,
                 " uncompressed bytes from ", entry.compressed,
                 " compressed bytes, more than deflate can produce (corrupted archive)");
    *inflated = inflate_raw(data, entry.compressed, entry.uncompressed, what);
    data = reinterpret_cast<const unsigned char*>(inflated->data());
  } else {
    GROOVE_THROW(what, ": unsupported compression method ", entry.method,
                 " (only 0 = stored and 8 = deflate are supported, as written by np.savez and "
                 "np.savez_compressed)");
  }
  const std::size_t n = static_cast<std::size_t>(entry.uncompressed);
  const std::uint32_t crc = crc32_of(data, n);
  GROOVE_CHECK(crc == entry.crc, what, ": CRC-32 mismatch (the archive says ", hex32(entry.crc), ", the data has ",
               hex32(crc), "); the archive is corrupted");
  return {reinterpret_cast<const char*>(data), n};
}

Tensor extract_member(const ZipArchive& zip, const ZipEntry& entry) {
  std::string inflated;
  const std::string_view bytes = member_bytes(zip, entry, &inflated);
  return parse_npy(bytes.data(), bytes.size(), member_what(zip.path, entry.name));
}

std::string array_name(const ZipEntry& entry) {
  return entry.name.substr(0, entry.name.size() - 4);
}

struct DeflateStream {
  z_stream zs{};
  bool ready = false;
  ~DeflateStream() {
    if (ready) deflateEnd(&zs);
  }
};

std::string deflate_raw(const std::string& input, const std::string& what) {
  DeflateStream s;
  GROOVE_CHECK(deflateInit2(&s.zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK, what,
               ": zlib deflateInit2 failed");
  s.ready = true;
  std::string out;
  std::vector<unsigned char> buf(256 * 1024);
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t left = input.size();
  int flush = Z_NO_FLUSH;
  do {
    const std::size_t chunk = std::min(left, kZlibChunk);
    s.zs.next_in = in;
    s.zs.avail_in = static_cast<uInt>(chunk);
    in += chunk;
    left -= chunk;
    flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      s.zs.next_out = buf.data();
      s.zs.avail_out = static_cast<uInt>(buf.size());
      const int rc = deflate(&s.zs, flush);
      GROOVE_CHECK(rc != Z_STREAM_ERROR, what, ": zlib deflate failed");
      out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - s.zs.avail_out);
    } while (s.zs.avail_out == 0);
  } while (flush != Z_FINISH);
  return out;
}

// Builds a ZIP archive in memory, one member at a time, so that a caller holds at most one
// serialized member besides the archive. Names are checked by the callers.
class ZipWriter {
 public:
  ZipWriter(std::string what, NpzCompression compression)
      : what_(std::move(what)), method_(compression == NpzCompression::deflated ? 8 : 0) {}

  void add(const std::string& name, const std::string& data) {
    const std::uint32_t crc = crc32_of(reinterpret_cast<const unsigned char*>(data.data()), data.size());
    const std::string deflated = method_ == 8 ? deflate_raw(data, member_what(what_, name)) : std::string();
    const std::string& body = method_ == 8 ? deflated : data;
    const std::uint64_t offset = zip_.size();
    check_size(data.size());
    check_size(offset + kLocalSize + name.size() + body.size());
    // Bit 11: the name is UTF-8, so Python's zipfile decodes non-ASCII names correctly.
    const bool utf8 = std::any_of(name.begin(), name.end(), [](char ch) { return (ch & 0x80) != 0; });
    const std::uint32_t flags = utf8 ? 0x800 : 0;

    put_u32(zip_, kLocalSig);
    put_u16(zip_, kVersion);
    put_u16(zip_, flags);
    put_u16(zip_, method_);
    put_u16(zip_, kDosTime);
    put_u16(zip_, kDosDate);
    put_u32(zip_, crc);
    put_u32(zip_, body.size());
    put_u32(zip_, data.size());
    put_u16(zip_, static_cast<std::uint32_t>(name.size()));
    put_u16(zip_, 0);
    zip_ += name;
    zip_ += body;

    put_u32(central_, kCentralSig);
    put_u16(central_, kMadeBy);
    put_u16(central_, kVersion);
    put_u16(central_, flags);
    put_u16(central_, method_);
    put_u16(central_, kDosTime);
    put_u16(central_, kDosDate);
    put_u32(central_, crc);
    put_u32(central_, body.size());
    put_u32(central_, data.size());
    put_u16(central_, static_cast<std::uint32_t>(name.size()));
    put_u16(central_, 0);               // extra
    put_u16(central_, 0);               // comment
    put_u16(central_, 0);               // disk
    put_u16(central_, 0);               // internal attributes
    put_u32(central_, 0100644u << 16);  // external attributes: a regular file, rw-r--r--
    put_u32(central_, offset);
    central_ += name;
    ++count_;
  }

  std::string finish() {
    const std::uint64_t cd_offset = zip_.size();
    check_size(cd_offset + central_.size() + kEocdSize);
    zip_ += central_;
    put_u32(zip_, kEocdSig);
    put_u16(zip_, 0);
    put_u16(zip_, 0);
    put_u16(zip_, count_);
    put_u16(zip_, count_);
    put_u32(zip_, central_.size());
    put_u32(zip_, cd_offset);
    put_u16(zip_, 0);
    return std::move(zip_);
  }

 private:
  static constexpr std::uint32_t kVersion = 20;            // 2.0: deflate
  static constexpr std::uint32_t kMadeBy = (3 << 8) | 20;  // Unix, so external attributes hold a file mode
  static constexpr std::uint32_t kDosTime = 0;
  static constexpr std::uint32_t kDosDate = (1 << 5) | 1;  // 1980-01-01: fixed, so output is reproducible

  void check_size(std::uint64_t n) const {
    GROOVE_CHECK(n < kMax32, what_, ": the archive would exceed 4 GiB, which needs ZIP64 (not written by groove)");
  }

  std::string what_;
  std::uint32_t method_;
  std::uint32_t count_ = 0;
  std::string zip_, central_;
};
// Rearranges a tensor whose bytes hold its elements in Fortran (column-major) order into
// groove's row-major order. numpy writes such files for F-contiguous arrays (a transpose, or
// DataFrame.to_numpy() in recent pandas).
Tensor from_fortran_order(const Tensor& f) {
  const Shape& shape = f.shape();
  const int rank = shape.ndim();
  if (rank < 2) return f;
  Tensor c = Tensor::host(shape, f.dtype());
  const std::size_t size = dtype_size(f.dtype());
  const auto* src = static_cast<const unsigned char*>(f.raw());
  auto* dst = static_cast<unsigned char*>(c.raw());
  std::vector<std::int64_t> index(static_cast<std::size_t>(rank), 0), fstride(static_cast<std::size_t>(rank), 1);
  for (int d = 1; d < rank; ++d) fstride[static_cast<std::size_t>(d)] = fstride[static_cast<std::size_t>(d - 1)] * shape[d - 1];
  std::int64_t offset = 0;  // Fortran offset of `index`, updated as the row-major index advances
  for (std::int64_t i = 0; i < f.numel(); ++i) {
    std::memcpy(dst + static_cast<std::size_t>(i) * size, src + static_cast<std::size_t>(offset) * size, size);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) {
        offset += fstride[d];
        break;
      }
      offset -= (shape[d] - 1) * fstride[d];
      index[d] = 0;
    }
  }
  return c;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// NPY

Tensor parse_npy(const void* data, std::size_t bytes, const std::string& what) {
  const auto* p = static_cast<const unsigned char*>(data);
  static const unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  GROOVE_CHECK(bytes > 0, what, ": empty file, not an NPY array");
  GROOVE_CHECK(std::memcmp(p, kMagic, std::min<std::size_t>(bytes, 6)) == 0, what,
               ": not an NPY file (it does not start with \"\\x93NUMPY\")");
  GROOVE_CHECK(bytes >= 8, what, ": truncated NPY header (", bytes, " bytes)");
  GROOVE_CHECK(std::memcmp(p, kMagic, 6) == 0, what, ": not an NPY file (it starts with \"",
               printable(std::string_view(reinterpret_cast<const char*>(p), 6)), "\", not \"\\x93NUMPY\")");
  const int major = p[6], minor = p[7];
  GROOVE_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, what, ": unsupported NPY format version ", major,
               ".", minor, " (supported: 1.0, 2.0, 3.0)");
  const std::size_t prefix = major == 1 ? 10 : 12;
  GROOVE_CHECK(bytes >= prefix, what, ": truncated NPY header (", bytes, " bytes)");
  const std::uint64_t header_len = major == 1 ? get_u16(p + 8) : get_u32(p + 8);
  GROOVE_CHECK(header_len <= bytes - prefix, what, ": NPY header length ", header_len,
               " extends past the end of the file (", bytes, " bytes); truncated header?");
  const std::string_view header(reinterpret_cast<const char*>(p + prefix), static_cast<std::size_t>(header_len));

  const PyValue dict = LiteralParser(header, what).parse();
  GROOVE_CHECK(dict.kind == PyValue::Kind::dict, what, ": malformed NPY header (not a dictionary): \"",
               printable(header), "\"");
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape_v = nullptr;
  for (const auto& [key, value] : dict.entries) {
    if (key == "descr") {
      descr = &value;
    } else if (key == "fortran_order") {
      fortran = &value;
    } else if (key == "shape") {
      shape_v = &value;
    } else {
      GROOVE_THROW(what, ": malformed NPY header (unexpected key '", printable(key), "'): \"", printable(header), "\"");
    }
  }
  auto require = [&](const PyValue* v, const char* key) {
    GROOVE_CHECK(v != nullptr, what, ": malformed NPY header (no '", key, "' key): \"", printable(header), "\"");
  };
  require(descr, "descr");
  require(fortran, "fortran_order");
  require(shape_v, "shape");
  GROOVE_CHECK(descr->kind == PyValue::Kind::string, what,
               ": unsupported dtype (structured or sub-array dtypes are not supported): \"", printable(header), "\"");
  GROOVE_CHECK(fortran->kind == PyValue::Kind::boolean, what,
               ": malformed NPY header ('fortran_order' is not True or False): \"", printable(header), "\"");
  GROOVE_CHECK(shape_v->kind == PyValue::Kind::tuple, what, ": malformed NPY header ('shape' is not a tuple): \"",
               printable(header), "\"");
  GROOVE_CHECK(shape_v->items.size() <= static_cast<std::size_t>(Shape::kMaxDims), what, ": array has ",
               shape_v->items.size(), " dimensions; groove supports at most ", Shape::kMaxDims);
  std::vector<std::int64_t> dims;
  std::int64_t count = 1;
  bool overflow = false;
  for (const PyValue& d : shape_v->items) {
    GROOVE_CHECK(d.kind == PyValue::Kind::integer, what, ": malformed NPY header (shape entry is not an integer): \"",
                 printable(header), "\"");
    GROOVE_CHECK(d.integer >= 0, what, ": negative dimension ", d.integer, " in shape \"", printable(header), "\"");
    // Same left-to-right order as Shape::numel, so any shape accepted here is accepted there.
    if (d.integer != 0 && count > kInt64Max / d.integer) overflow = true;
    if (!overflow) count *= d.integer;
    dims.push_back(d.integer);
  }
  GROOVE_CHECK(!overflow, what, ": the element count of the shape overflows int64: \"", printable(header), "\"");
  const Source src = parse_descr(descr->text, what);
  GROOVE_CHECK(count <= kInt64Max / static_cast<std::int64_t>(src.itemsize), what, ": the data size of shape ",
               shape_repr(Shape(dims)), " overflows int64");
  const std::uint64_t need = static_cast<std::uint64_t>(count) * src.itemsize;
  const std::uint64_t have = bytes - prefix - header_len;
  GROOVE_CHECK(have >= need, what, ": truncated data: shape ", shape_repr(Shape(dims)), " of '", descr->text,
               "' needs ", need, " bytes after the header, the file has ", have);
  GROOVE_CHECK(have == need, what, ": ", have - need, " trailing bytes after the array data (shape ",
               shape_repr(Shape(dims)), " of '", descr->text, "' needs ", need, " bytes)");

  const unsigned char* body = p + prefix + header_len;
  Tensor t = Tensor::host(Shape(dims), src.dtype);
  if (count == 0) return t;
  auto* out = static_cast<std::int32_t*>(t.raw());
  const std::string& ds = descr->text;
  switch (src.kind) {
    case SourceKind::f32:
    case SourceKind::f64:
    case SourceKind::i32:
      std::memcpy(t.raw(), body, static_cast<std::size_t>(need));
      break;
    case SourceKind::b1:
      for (std::int64_t i = 0; i < count; ++i) out[i] = body[i] != 0;
      break;
    case SourceKind::i8:
      convert_to_i32<std::int8_t>(body, count, out, what, ds);
      break;
    case SourceKind::u8:
      convert_to_i32<std::uint8_t>(body, count, out, what, ds);
      break;
    case SourceKind::i16:
      convert_to_i32<std::int16_t>(body, count, out, what, ds);
      break;
    case SourceKind::u16:
      convert_to_i32<std::uint16_t>(body, count, out, what, ds);
      break;
    case SourceKind::u32:
      convert_to_i32<std::uint32_t>(body, count, out, what, ds);
      break;
    case SourceKind::i64:
      convert_to_i32<std::int64_t>(body, count, out, what, ds);
      break;
    case SourceKind::u64:
      convert_to_i32<std::uint64_t>(body, count, out, what, ds);
      break;
  }
  return fortran->boolean ? from_fortran_order(t) : t;
}

std::string serialize_npy(const Tensor& tensor) {
  GROOVE_CHECK(tensor.defined(), "serialize_npy: the tensor is undefined");
  const Tensor host = tensor.is_cuda() ? tensor.to_host() : tensor;
  std::string dict = std::string("{'descr': '") + descr_of(host.dtype()) +
                     "', 'fortran_order': False, 'shape': " + shape_repr(host.shape()) + ", }";
  // numpy leaves room for the first dimension to grow to 21 digits (np.lib.format's
  // GROWTH_AXIS_MAX_DIGITS); doing the same makes our files byte-identical to np.save's.
  if (host.ndim() > 0) dict.append(21 - std::min<std::size_t>(21, std::to_string(host.shape()[0]).size()), ' ');
  // The data starts at a multiple of 64 bytes, as numpy writes it (aligned for memory mapping).
  auto padded_len = [&](std::size_t prefix) {
    const std::size_t hlen = dict.size() + 1;
    return hlen + (64 - (prefix + hlen) % 64);
  };
  int major = 1;
  std::size_t prefix = 10;
  std::size_t header_len = padded_len(prefix);
  if (header_len > kMax16) {
    major = 2;
    prefix = 12;
    header_len = padded_len(prefix);
  }
  std::string out;
  out.reserve(prefix + header_len + host.nbytes());
  out.append("\x93NUMPY");
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  if (major == 1) {
    put_u16(out, static_cast<std::uint32_t>(header_len));
  } else {
    put_u32(out, header_len);
  }
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out.push_back('\n');
  if (host.nbytes() > 0) out.append(static_cast<const char*>(host.raw()), host.nbytes());
  return out;
}

Tensor read_npy(const std::string& path) {
  const std::string bytes = read_whole_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

void write_npy(const std::string& path, const Tensor& tensor) {
  GROOVE_CHECK(tensor.defined(), "write_npy '", path, "': the tensor is undefined");
  write_file_atomic(path, serialize_npy(tensor));
}

// ---------------------------------------------------------------------------------------------
// NPZ

std::vector<NamedTensor> read_npz(const std::string& path) {
  const ZipArchive zip = open_zip(path, true);
  std::vector<NamedTensor> out;
  out.reserve(zip.entries.size());
  for (const ZipEntry& entry : zip.entries) out.push_back({array_name(entry), extract_member(zip, entry)});
  return out;
}

Tensor read_npz_array(const std::string& path, const std::string& name) {
  const ZipArchive zip = open_zip(path, true);
  std::string present;
  for (const ZipEntry& entry : zip.entries) {
    if (array_name(entry) == name) return extract_member(zip, entry);
    present += (present.empty() ? "" : ", ") + array_name(entry);
  }
  GROOVE_THROW(path, ": no array named '", name,
               "' in the archive; arrays present: ", present.empty() ? "(none)" : present);
}

void write_npz(const std::string& path, const std::vector<NamedTensor>& arrays, NpzCompression compression) {
  GROOVE_CHECK(arrays.size() < kMax16, "write_npz '", path, "': ", arrays.size(),
               " arrays; a ZIP archive without ZIP64 holds at most ", kMax16 - 1);
  std::set<std::string> names;
  for (const NamedTensor& a : arrays) {
    GROOVE_CHECK(!a.name.empty(), "write_npz '", path, "': an array has an empty name");
    GROOVE_CHECK(a.name.find('/') == std::string::npos, "write_npz '", path, "': array name '", a.name,
                 "' contains '/'");
    GROOVE_CHECK(a.name.size() + 4 <= kMax16, "write_npz '", path, "': array name of ", a.name.size(),
                 " bytes is too long");
    GROOVE_CHECK(names.insert(a.name).second, "write_npz '", path, "': duplicate array name '", a.name, "'");
    GROOVE_CHECK(a.tensor.defined(), "write_npz '", path, "': array '", a.name, "' is undefined");
  }

  ZipWriter zip("write_npz '" + path + "'", compression);
  for (const NamedTensor& a : arrays) zip.add(a.name + ".npy", serialize_npy(a.tensor));
  write_file_atomic(path, zip.finish());
}

// ---------------------------------------------------------------------------------------------
// Raw ZIP members

std::vector<ZipMember> read_zip_members(const std::string& path) {
  const ZipArchive zip = open_zip(path, false);
  std::vector<ZipMember> out;
  out.reserve(zip.entries.size());
  for (const ZipEntry& entry : zip.entries) {
    std::string inflated;
    const std::string_view bytes = member_bytes(zip, entry, &inflated);
    out.push_back({entry.name, inflated.empty() ? std::string(bytes) : std::move(inflated)});
  }
  return out;
}

std::string serialize_zip(const std::vector<ZipMember>& members, NpzCompression compression, const std::string& what) {
  GROOVE_CHECK(members.size() < kMax16, what, ": ", members.size(),
               " members; a ZIP archive without ZIP64 holds at most ", kMax16 - 1);
  std::set<std::string> names;
  for (const ZipMember& m : members) {
    GROOVE_CHECK(!m.name.empty(), what, ": a member has an empty name");
    GROOVE_CHECK(m.name.size() <= kMax16, what, ": member name of ", m.name.size(), " bytes is too long");
    GROOVE_CHECK(names.insert(m.name).second, what, ": duplicate member name '", printable(m.name), "'");
  }
  ZipWriter zip(what, compression);
  for (const ZipMember& m : members) zip.add(m.name, m.bytes);
  return zip.finish();
}

std::uint32_t zip_crc32(std::string_view bytes) {
  return crc32_of(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

// ---------------------------------------------------------------------------------------------
// Atomic file writes

void write_file_atomic(const std::string& path, const std::string& bytes, const std::string& previous_path) {
  GROOVE_CHECK(!path.empty(), "write_file_atomic: empty path");
  // Unique per process and per call, so concurrent writers of one path never share a temp file.
  static std::atomic<unsigned long> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    GROOVE_THROW("cannot write '", path, "': cannot create the temporary file '", tmp, "': ", errno_text(errno));
  }
  auto fail = [&](const char* step, int err, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    GROOVE_THROW("cannot write '", path, "': ", step, " failed: ", errno_text(err));
  };
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno, true);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync", errno, true);
  if (::close(fd) != 0) fail("close", errno, false);
  // The new file is complete on disk before any name changes, so every name below always
  // points to a complete file.
  if (!previous_path.empty() && ::rename(path.c_str(), previous_path.c_str()) != 0 && errno != ENOENT) {
    const int err = errno;
    ::unlink(tmp.c_str());
    GROOVE_THROW("cannot write '", path, "': renaming the former file to '", previous_path,
                 "' failed: ", errno_text(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno, false);

  // The rename is durable only once the directory entry is on disk.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    // Some file systems cannot fsync a directory (EINVAL); the data itself is already safe then.
    GROOVE_CHECK(rc == 0 || err == EINVAL, "wrote '", path, "' but fsync of its folder '", dir,
                 "' failed: ", errno_text(err));
  }
}

}  // namespace groove
