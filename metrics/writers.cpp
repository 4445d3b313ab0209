// The run writers: metrics.csv (CsvWriter) and examples.npy (NpyAppender); see writers.h.
#include "metrics/writers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include "runtime/error.h"

namespace groove::metrics {

// The formats are little-endian and the data is copied with memcpy, so the host must be too.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "writers.cpp assumes a little-endian host");
#endif

namespace {

// float 0x7fc0dead converts to double 0x7ff8000000000000 | (0x00dead << 29).
constexpr std::uint32_t kNotComputedBits32 = 0x7fc0deadu;
constexpr std::uint64_t kNotComputedBits64 = 0x7ff8000000000000ull | (std::uint64_t{0x00dead} << 29);

double double_from_bits(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
float float_from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Flush the buffers once they reach this size, so memory stays bounded between flushes.
constexpr std::size_t kBufferLimit = std::size_t{4} << 20;

std::string errno_text(int err) {
  return std::strerror(err);
}

// Writes all of `bytes` at the current position (offset < 0) or at `offset` (pwrite).
void write_all(int fd, const char* data, std::size_t bytes, std::int64_t offset, const std::string& path) {
  while (bytes > 0) {
    const ssize_t n = offset < 0 ? ::write(fd, data, bytes) : ::pwrite(fd, data, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      GROOVE_THROW("cannot write '", path, "': ", errno_text(errno));
    }
    GROOVE_CHECK(n > 0, "cannot write '", path, "': the write made no progress");
    data += n;
    bytes -= static_cast<std::size_t>(n);
    if (offset >= 0) offset += n;
  }
}

// Reads up to `bytes` at `offset`; returns the number read (short only at the end of the file).
std::size_t read_at(int fd, char* data, std::size_t bytes, std::int64_t offset, const std::string& path) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, data + done, bytes - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      GROOVE_THROW("cannot read '", path, "': ", errno_text(errno));
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::int64_t file_size(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) GROOVE_THROW("cannot stat '", path, "': ", errno_text(errno));
  return static_cast<std::int64_t>(st.st_size);
}

void truncate_file(int fd, std::int64_t size, const std::string& path) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    GROOVE_THROW("cannot truncate '", path, "' to ", size, " bytes: ", errno_text(errno));
  }
}

void sync_file(int fd, const std::string& path) {
  // Character devices and some file systems cannot fsync (EINVAL / EROFS); nothing to make durable.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    GROOVE_THROW("cannot write '", path, "': fsync failed: ", errno_text(errno));
  }
}

int open_file(const std::string& path, int flags) {
  GROOVE_CHECK(!path.empty(), "cannot open a file with an empty path");
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666);
  if (fd < 0) {
    GROOVE_THROW("cannot ", (flags & O_CREAT) ? "create" : "open", " '", path, "': ", errno_text(errno));
  }
  return fd;
}

// True when the file does not exist or is empty (a resume then starts a new file).
bool missing_or_empty(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno == ENOENT;
  return S_ISREG(st.st_mode) && st.st_size == 0;
}

// ---- CSV text ------------------------------------------------------------------------------

std::string csv_quote(const std::string& name) {
  if (name.find_first_of(",\"\r\n") == std::string::npos) return name;
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_header(const std::vector<CsvColumn>& columns) {
  std::string line;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c) line += ',';
    line += csv_quote(columns[c].name);
  }
  return line + "\n";
}

// Splits one CSV line (no line break inside; RFC 4180 quotes) into fields.
std::vector<std::string> csv_split(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

void append_cell(std::string& out, double v, bool integer) {
  if (is_not_computed(v)) return;
  if (std::isnan(v)) {
    out += "nan";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "inf" : "-inf";
    return;
  }
  char buf[64];
  std::to_chars_result r;
  // 2^63: every whole double below it converts to int64 exactly.
  if (integer && v == std::trunc(v) && std::fabs(v) < 9223372036854775808.0 && !(v == 0 && std::signbit(v))) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));
  } else {
    r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back to v
  }
  GROOVE_ASSERT(r.ec == std::errc(), "to_chars failed for ", v);
  out.append(buf, r.ptr);
}

// ---- NPY header ----------------------------------------------------------------------------

const char* npy_descr(DType dtype) {
  return dtype == DType::f32 ? "<f4" : "<f8";
}

std::string shape_text(std::int64_t rows, const std::vector<std::int64_t>& trailing) {
  std::string s = "(" + std::to_string(rows);
  if (trailing.empty()) return s + ",)";
  for (std::int64_t d : trailing) s += ", " + std::to_string(d);
  return s + ")";
}

std::string trailing_text(const std::vector<std::int64_t>& trailing) {
  std::string s = "[rows";
  for (std::int64_t d : trailing) s += ", " + std::to_string(d);
  return s + "]";
}

// The parts of an NPY header dictionary an appender needs.
struct NpyHeader {
  std::string descr;
  bool fortran = false;
  std::vector<std::int64_t> shape;
};

// Parses numpy's header dictionary: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
class NpyDictParser {
 public:
  NpyDictParser(std::string_view text, const std::string& path) : t_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    for (;;) {
      space();
      if (peek() == '}') break;
      const std::string key = quoted();
      space();
      expect(':');
      space();
      if (key == "descr") {
        h.descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + printable(key) + "'");
      }
      space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    if (!have_descr || !have_fortran || !have_shape) fail("'descr', 'fortran_order' or 'shape' missing");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    GROOVE_THROW("'", path_, "': malformed NPY header (", why, " at offset ", pos_, "): \"", printable(t_), "\"");
  }
  char peek() const { return pos_ < t_.size() ? t_[pos_] : '\0'; }
  void space() {
    while (peek() == ' ' || peek() == '\t') ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a string");
    ++pos_;
    const std::size_t start = pos_;
    while (pos_ < t_.size() && t_[pos_] != q) ++pos_;
    if (pos_ >= t_.size()) fail("unterminated string");
    return std::string(t_.substr(start, pos_++ - start));
  }
  bool boolean() {
    if (t_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (t_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> dims;
    expect('(');
    for (;;) {
      space();
      if (peek() == ')') break;
      if (!(peek() >= '0' && peek() <= '9')) fail("expected a dimension");
      std::int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (d > (std::numeric_limits<std::int64_t>::max() - 9) / 10) fail("dimension too large");
        d = d * 10 + (peek() - '0');
        ++pos_;
      }
      if (peek() == 'L') ++pos_;
      dims.push_back(d);
      space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')'");
    }
    ++pos_;
    return dims;
  }

  std::string_view t_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string csv_number(double value) {
  std::string out;
  append_cell(out, value, false);
  return out;
}

std::string csv_field(const std::string& text) {
  return csv_quote(text);
}

const double kNotComputed = double_from_bits(kNotComputedBits64);
const float kNotComputedF32 = float_from_bits(kNotComputedBits32);

bool is_not_computed(double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits == kNotComputedBits64;
}

bool is_not_computed(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits == kNotComputedBits32;
}

// ---------------------------------------------------------------------------------------------
// CsvWriter

namespace {
// Runs flush (which syncs), then closes fd and sets it to -1, also when flush throws; a failed
// close is an error naming the file.
template <typename Flush>
void close_flushed(int& fd, const std::string& path, const Flush& flush) {
  if (fd < 0) return;
  try {
    flush();
  } catch (...) {
    ::close(fd);
    fd = -1;
    throw;
  }
  const int rc = ::close(fd);
  fd = -1;
  if (rc != 0) GROOVE_THROW("cannot write '", path, "': close failed: ", errno_text(errno));
}
}  // namespace

CsvWriter::CsvWriter(const std::string& path, std::vector<CsvColumn> columns, OpenMode mode)
    : path_(path), columns_(std::move(columns)) {
  GROOVE_CHECK(!columns_.empty(), "CsvWriter '", path_, "': no columns");
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    GROOVE_CHECK(columns_[c].name.find_first_of("\r\n") == std::string::npos, "CsvWriter '", path_, "': column ", c,
                 " name \"", printable(columns_[c].name), "\" contains a line break");
  }
  if (mode == OpenMode::resume && !missing_or_empty(path_)) {
    fd_ = open_file(path_, O_RDWR);
    try {
      open_resume();
    } catch (...) {
      ::close(fd_);
      fd_ = -1;
      throw;
    }
    return;
  }
  fd_ = open_file(path_, O_RDWR | O_CREAT | O_TRUNC);
  try {
    write_out(csv_header(columns_));
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

void CsvWriter::open_resume() {
  const std::string expected = csv_header(columns_);
  const std::int64_t size = file_size(fd_, path_);
  // One pass over the file: the header line, the number of line ends, the end of the last one.
  std::string head;
  bool head_done = false;
  std::int64_t newlines = 0, end_of_last_line = 0;
  std::string chunk(std::size_t{1} << 20, '\0');
  for (std::int64_t off = 0; off < size;) {
    const std::size_t n = read_at(fd_, chunk.data(), chunk.size(), off, path_);
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) {
      if (chunk[i] != '\n') continue;
      ++newlines;
      end_of_last_line = off + static_cast<std::int64_t>(i) + 1;
      if (!head_done) {
        head.append(chunk.data(), i);
        head_done = true;
      }
    }
    if (!head_done) {
      head.append(chunk.data(), n);
      GROOVE_CHECK(head.size() <= expected.size() + (std::size_t{1} << 16), "'", path_,
                   "': cannot resume: the first line is not a CSV header of this run (no line break in its first ",
                   head.size(), " bytes)");
    }
    off += static_cast<std::int64_t>(n);
  }
  if (!head_done) {
    // The crash came while the header was being written: start over if it is a prefix of ours.
    GROOVE_CHECK(expected.compare(0, head.size(), head) == 0, "'", path_,
                 "': cannot resume: the file holds a partial line \"", printable(head),
                 "\" that is not the start of this run's header \"", printable(expected.substr(0, expected.size() - 1)),
                 "\"");
    truncate_file(fd_, 0, path_);
    if (::lseek(fd_, 0, SEEK_SET) < 0) GROOVE_THROW("cannot seek in '", path_, "': ", errno_text(errno));
    write_out(expected);
    rows_ = 0;
    return;
  }
  if (!head.empty() && head.back() == '\r') head.pop_back();
  const std::vector<std::string> found = csv_split(head);
  const std::size_t common = std::min(found.size(), columns_.size());
  for (std::size_t c = 0; c < common; ++c) {
    GROOVE_CHECK(found[c] == columns_[c].name, "'", path_, "': cannot resume: the header does not match this run's ",
                 "columns: column ", c, " is \"", printable(found[c]), "\" in the file, \"",
                 printable(columns_[c].name), "\" expected");
  }
  GROOVE_CHECK(found.size() == columns_.size(), "'", path_, "': cannot resume: the header has ", found.size(),
               " columns, this run writes ", columns_.size(), "; first differing column ", common, ": ",
               found.size() > common ? "\"" + printable(found[common]) + "\" in the file, none expected"
                                     : "none in the file, \"" + printable(columns_[common].name) + "\" expected");
  // Drop a partial last line (a crash mid-row).
  if (end_of_last_line < size) truncate_file(fd_, end_of_last_line, path_);
  if (::lseek(fd_, 0, SEEK_END) < 0) GROOVE_THROW("cannot seek in '", path_, "': ", errno_text(errno));
  rows_ = newlines - 1;
}

CsvWriter::~CsvWriter() {
  if (fd_ < 0) return;
  try {
    flush();
  } catch (...) {  // NOLINT(bugprone-empty-catch): destructors must not throw; close() reports
  }
  ::close(fd_);
}

void CsvWriter::write_out(const std::string& bytes) {
  write_all(fd_, bytes.data(), bytes.size(), -1, path_);
}

void CsvWriter::write_row(const std::vector<double>& values) {
  write_row(values.data(), values.size());
}

void CsvWriter::write_row(const double* values, std::size_t n) {
  GROOVE_CHECK(fd_ >= 0, "CsvWriter '", path_, "': write_row after close()");
  GROOVE_CHECK(n == columns_.size(), "CsvWriter '", path_, "': a row of ", n, " values for ", columns_.size(),
               " columns");
  for (std::size_t c = 0; c < n; ++c) {
    if (c) buffer_ += ',';
    append_cell(buffer_, values[c], columns_[c].integer);
  }
  buffer_ += '\n';
  ++rows_;
  if (buffer_.size() >= kBufferLimit) {
    write_out(buffer_);
    buffer_.clear();
  }
}

void CsvWriter::flush(bool sync) {
  GROOVE_CHECK(fd_ >= 0, "CsvWriter '", path_, "': flush after close()");
  if (!buffer_.empty()) {
    // Clear first: after a failed write the rows are lost rather than written twice.
    const std::string bytes = std::move(buffer_);
    buffer_.clear();
    write_out(bytes);
  }
  if (sync) sync_file(fd_, path_);
}

void CsvWriter::close() {
  close_flushed(fd_, path_, [this] { flush(true); });
}

void CsvWriter::truncate_rows(std::int64_t n) {
  GROOVE_CHECK(fd_ >= 0, "CsvWriter '", path_, "': truncate_rows after close()");
  GROOVE_CHECK(n >= 0 && n <= rows_, "CsvWriter '", path_, "': truncate_rows(", n, ") but the file has ", rows_,
               " rows");
  flush();
  if (n == rows_) return;
  // Find the end of line n + 1 (the header is line 1).
  const std::int64_t size = file_size(fd_, path_);
  std::int64_t need = n + 1, end = -1;
  std::string chunk(std::size_t{1} << 20, '\0');
  for (std::int64_t off = 0; off < size && end < 0;) {
    const std::size_t got = read_at(fd_, chunk.data(), chunk.size(), off, path_);
    if (got == 0) break;
    for (std::size_t i = 0; i < got; ++i) {
      if (chunk[i] == '\n' && --need == 0) {
        end = off + static_cast<std::int64_t>(i) + 1;
        break;
      }
    }
    off += static_cast<std::int64_t>(got);
  }
  GROOVE_CHECK(end >= 0, "'", path_, "': the file has fewer than ", n, " rows; was it changed by another program?");
  truncate_file(fd_, end, path_);
  if (::lseek(fd_, 0, SEEK_END) < 0) GROOVE_THROW("cannot seek in '", path_, "': ", errno_text(errno));
  rows_ = n;
}

// ---------------------------------------------------------------------------------------------
// NpyAppender

NpyAppender::NpyAppender(const std::string& path, DType dtype, std::vector<std::int64_t> trailing, OpenMode mode)
    : path_(path), dtype_(dtype), trailing_(std::move(trailing)) {
  GROOVE_CHECK(dtype_ == DType::f32 || dtype_ == DType::f64, "NpyAppender '", path_, "': dtype ", dtype_name(dtype_),
               " is not supported (f32 or f64)");
  GROOVE_CHECK(trailing_.size() <= 31, "NpyAppender '", path_, "': ", trailing_.size(),
               " trailing dimensions; numpy allows at most 32 dimensions");
  for (std::int64_t d : trailing_) {
    GROOVE_CHECK(d >= 0, "NpyAppender '", path_, "': negative trailing dimension ", d);
    GROOVE_CHECK(d == 0 || row_elements_ <= std::numeric_limits<std::int64_t>::max() / 8 / d, "NpyAppender '", path_,
                 "': trailing shape ", trailing_text(trailing_), " is too large");
    row_elements_ *= d;
  }
  row_bytes_ = row_elements_ * static_cast<std::int64_t>(dtype_size(dtype_));
  if (mode == OpenMode::resume && !missing_or_empty(path_)) {
    fd_ = open_file(path_, O_RDWR);
    try {
      open_resume();
    } catch (...) {
      ::close(fd_);
      fd_ = -1;
      throw;
    }
    return;
  }
  fd_ = open_file(path_, O_RDWR | O_CREAT | O_TRUNC);
  try {
    // Room for the largest row count: numpy's 21 digits for the growing axis.
    const std::string prefix_dict = "{'descr': '" + std::string(npy_descr(dtype_)) +
                                    "', 'fortran_order': False, 'shape': " + shape_text(0, trailing_) + ", }";
    const std::size_t min_len = 10 + prefix_dict.size() + 20 + 1;  // + 20 more digits, + '\n'
    header_bytes_ = static_cast<std::int64_t>((min_len + 63) / 64 * 64);
    GROOVE_CHECK(header_bytes_ - 10 <= 0xffff, "NpyAppender '", path_, "': the NPY header is too long");
    rows_in_header_ = 0;
    const std::string h = header(0);
    write_all(fd_, h.data(), h.size(), 0, path_);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

std::string NpyAppender::header(std::int64_t rows) const {
  const std::string dict = "{'descr': '" + std::string(npy_descr(dtype_)) +
                           "', 'fortran_order': False, 'shape': " + shape_text(rows, trailing_) + ", }";
  const bool v1 = header_bytes_ - 10 <= 0xffff;
  const std::size_t prefix = v1 ? 10 : 12;
  const std::size_t header_len = static_cast<std::size_t>(header_bytes_) - prefix;
  GROOVE_CHECK(dict.size() + 1 <= header_len, "'", path_, "': no room in the NPY header for ", rows,
               " rows (the header has ", header_len, " bytes)");
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(v1 ? 1 : 2));
  out.push_back(0);
  for (std::size_t b = 0; b < (v1 ? 2u : 4u); ++b) out.push_back(static_cast<char>((header_len >> (8 * b)) & 0xff));
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out.push_back('\n');
  return out;
}

void NpyAppender::open_resume() {
  const std::int64_t size = file_size(fd_, path_);
  unsigned char pre[12] = {};
  const std::size_t got = read_at(fd_, reinterpret_cast<char*>(pre), sizeof pre, 0, path_);
  GROOVE_CHECK(got >= 10 && std::memcmp(pre, "\x93NUMPY", 6) == 0, "'", path_,
               "': cannot resume: not an NPY file (no \"\\x93NUMPY\" magic)");
  const int major = pre[6];
  GROOVE_CHECK((major == 1 || major == 2 || major == 3) && pre[7] == 0, "'", path_,
               "': cannot resume: unsupported NPY format version ", major, ".", int(pre[7]));
  const std::size_t prefix = major == 1 ? 10 : 12;
  GROOVE_CHECK(got >= prefix, "'", path_, "': cannot resume: truncated NPY header");
  std::uint64_t header_len = 0;
  for (std::size_t b = 0; b < prefix - 8; ++b) header_len |= std::uint64_t{pre[8 + b]} << (8 * b);
  GROOVE_CHECK(header_len <= 1u << 20 && static_cast<std::int64_t>(prefix + header_len) <= size, "'", path_,
               "': cannot resume: truncated NPY header (", header_len, " bytes declared, the file has ", size, ")");
  // Our rewrites keep the format: version 1 has a 16-bit header length.
  GROOVE_CHECK(major == 1 || prefix + header_len - 10 > 0xffff, "'", path_, "': cannot resume: NPY version ", major,
               " file with a short header (rewrite it with np.save)");
  std::string text(header_len, '\0');
  read_at(fd_, text.data(), text.size(), static_cast<std::int64_t>(prefix), path_);
  std::string_view dict = text;
  while (!dict.empty() && (dict.back() == ' ' || dict.back() == '\n' || dict.back() == '\0')) dict.remove_suffix(1);
  const NpyHeader h = NpyDictParser(dict, path_).parse();

  GROOVE_CHECK(h.descr == npy_descr(dtype_), "'", path_, "': cannot resume: the file holds dtype '", printable(h.descr),
               "', this run writes ", dtype_name(dtype_), " ('", npy_descr(dtype_), "')");
  GROOVE_CHECK(!h.fortran, "'", path_, "': cannot resume: the file is in Fortran order");
  GROOVE_CHECK(!h.shape.empty(), "'", path_, "': cannot resume: the file holds a 0-d array");
  const std::vector<std::int64_t> file_trailing(h.shape.begin() + 1, h.shape.end());
  GROOVE_CHECK(file_trailing == trailing_, "'", path_, "': cannot resume: the file has shape ",
               shape_text(h.shape[0], file_trailing), ", this run writes rows of ", trailing_text(trailing_));

  header_bytes_ = static_cast<std::int64_t>(prefix + header_len);
  const std::int64_t data = size - header_bytes_;
  std::int64_t rows = h.shape[0];
  if (row_bytes_ > 0) {
    // Every whole row in the file counts (also those appended after the last header rewrite); a
    // partial trailing row (a crash mid-append) is dropped.
    rows = data / row_bytes_;
    if (data % row_bytes_ != 0) truncate_file(fd_, header_bytes_ + rows * row_bytes_, path_);
  }
  rows_ = rows_in_file_ = rows;
  rows_in_header_ = h.shape[0];
  if (rows_in_header_ != rows_) {
    const std::string hdr = header(rows_);
    write_all(fd_, hdr.data(), hdr.size(), 0, path_);
    rows_in_header_ = rows_;
  }
}

NpyAppender::~NpyAppender() {
  if (fd_ < 0) return;
  try {
    flush();
  } catch (...) {  // NOLINT(bugprone-empty-catch): destructors must not throw; close() reports
  }
  ::close(fd_);
}

void NpyAppender::write_at(const char* data, std::size_t bytes, std::int64_t offset) {
  write_all(fd_, data, bytes, offset, path_);
}

template <typename T>
void NpyAppender::append_impl(const T* data, std::int64_t rows) {
  GROOVE_CHECK(fd_ >= 0, "NpyAppender '", path_, "': append after close()");
  GROOVE_CHECK(rows >= 0, "NpyAppender '", path_, "': append of ", rows, " rows");
  GROOVE_CHECK(data != nullptr || rows == 0 || row_elements_ == 0, "NpyAppender '", path_, "': append: data is null");
  const std::int64_t n = rows * row_elements_;
  if (dtype_ == dtype_v<T>) {
    buffer_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n) * sizeof(T));
  } else {
    const std::size_t at = buffer_.size();
    const std::size_t item = dtype_size(dtype_);
    buffer_.resize(at + static_cast<std::size_t>(n) * item);
    char* out = buffer_.data() + at;
    for (std::int64_t i = 0; i < n; ++i) {
      if (dtype_ == DType::f32) {
        const auto v = static_cast<float>(data[i]);
        std::memcpy(out + i * 4, &v, 4);
      } else {
        const auto v = static_cast<double>(data[i]);
        std::memcpy(out + i * 8, &v, 8);
      }
    }
  }
  rows_ += rows;
  if (buffer_.size() >= kBufferLimit) {
    // Data only; the header follows at the next flush().
    const std::string bytes = std::move(buffer_);
    buffer_.clear();
    write_at(bytes.data(), bytes.size(), header_bytes_ + rows_in_file_ * row_bytes_);
    rows_in_file_ = rows_;
  }
}

void NpyAppender::append(const float* data, std::int64_t rows) {
  append_impl(data, rows);
}

void NpyAppender::append(const double* data, std::int64_t rows) {
  append_impl(data, rows);
}

void NpyAppender::flush(bool sync) {
  GROOVE_CHECK(fd_ >= 0, "NpyAppender '", path_, "': flush after close()");
  if (!buffer_.empty()) {
    const std::string bytes = std::move(buffer_);
    buffer_.clear();
    write_at(bytes.data(), bytes.size(), header_bytes_ + rows_in_file_ * row_bytes_);
  }
  rows_in_file_ = rows_;
  // The data first, then the header that counts it: a reader never sees rows without data.
  if (sync) sync_file(fd_, path_);
  if (rows_in_header_ != rows_) {
    const std::string h = header(rows_);
    write_at(h.data(), h.size(), 0);
    rows_in_header_ = rows_;
    if (sync) sync_file(fd_, path_);
  }
}

void NpyAppender::close() {
  close_flushed(fd_, path_, [this] { flush(true); });
}

void NpyAppender::truncate_rows(std::int64_t n) {
  GROOVE_CHECK(fd_ >= 0, "NpyAppender '", path_, "': truncate_rows after close()");
  GROOVE_CHECK(n >= 0 && n <= rows_, "NpyAppender '", path_, "': truncate_rows(", n, ") but the file has ", rows_,
               " rows");
  flush();
  if (n == rows_) return;
  // The header first, so a reader never sees a count larger than the data.
  const std::string h = header(n);
  write_at(h.data(), h.size(), 0);
  truncate_file(fd_, header_bytes_ + n * row_bytes_, path_);
  rows_ = rows_in_file_ = rows_in_header_ = n;
}

}  // namespace groove::metrics
