// The run writers: metrics.csv (CsvWriter) and examples.npy (NpyAppender). Both append rows to a
// file that stays readable (pandas.read_csv / numpy.load) after every flush(), can be reopened to
// continue a run (resume: the header is checked, a partial last row from a crash is dropped), and
// throw groove::Error naming the file on every failure (cannot create, short write, disk full).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace groove::metrics {

// A statistic that was not computed at this row (a periodic statistic between its evaluations):
// a quiet NaN with a fixed payload, written to CSV as an empty cell. Compare with is_not_computed
// (NaN never compares equal). kNotComputedF32 converts (static_cast<double>) to kNotComputed.
extern const double kNotComputed;
extern const float kNotComputedF32;
bool is_not_computed(double value);
bool is_not_computed(float value);

// CSV text helpers, shared by every CSV groove writes (metrics.csv, runs.csv, reversal.csv):
// csv_number: the shortest text that reads back to the same double ("0.1", "1e+30"; "nan", "inf",
// "-inf"; "" for kNotComputed). csv_field: the text, quoted (RFC 4180) when it contains ',', '"',
// CR or LF.
std::string csv_number(double value);
std::string csv_field(const std::string& text);

// How to open a file that may exist already.
enum class OpenMode {
  truncate,  // start a new file (an existing one is replaced)
  resume,    // append to the file if it exists and is not empty (checked), else start a new one
};

struct CsvColumn {
  std::string name;
  bool integer = false;  // whole values print as integers (e.g. "step")
};

// A CSV file with a header row (RFC 4180; names are quoted when they contain ',', '"', CR or LF).
// Cells: shortest text that reads back to the same double (std::to_chars), so values round-trip
// exactly; -0 keeps its sign; NaN is "nan", infinities "inf" / "-inf"; kNotComputed is an empty
// cell (pandas and numpy.genfromtxt read both as NaN). Integer columns print whole values with
// |v| < 2^63 as plain integers ("1000000", not "1e+06"); other values print as floats.
// Rows are buffered; flush() writes them to the file (and fsyncs it when asked).
class CsvWriter {
 public:
  // Resume with an existing file checks that its header names the same columns (else an Error
  // naming the file and the first differing column), truncates a partial last line (a crash
  // mid-write) and appends after the last complete row.
  CsvWriter(const std::string& path, std::vector<CsvColumn> columns, OpenMode mode = OpenMode::truncate);
  ~CsvWriter();  // flushes; errors there are swallowed: call close() to see them
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  // One row of columns().size() values.
  void write_row(const std::vector<double>& values);
  void write_row(const double* values, std::size_t n);
  // Writes the buffered rows to the file; with sync also fsyncs it.
  void flush(bool sync = false);
  // Flushes (with fsync) and closes; later calls are errors. Idempotent.
  void close();
  // Keeps the first n data rows of the file and drops the rest (resuming from a checkpoint taken
  // before the last rows were written). Flushes first.
  void truncate_rows(std::int64_t n);

  const std::string& path() const { return path_; }
  const std::vector<CsvColumn>& columns() const { return columns_; }
  // Data rows in the file (those found when resuming plus those written since).
  std::int64_t rows() const { return rows_; }

 private:
  void write_out(const std::string& bytes);
  void open_resume();

  std::string path_;
  std::vector<CsvColumn> columns_;
  int fd_ = -1;
  std::int64_t rows_ = 0;
  std::string buffer_;
};

// An append-only NPY file (format 1.0, little-endian '<f4' or '<f8', C order) of shape
// [rows, trailing...] whose row count grows. The header is written with room for a 21-digit row
// count (as numpy does), padded with spaces to a multiple of 64 bytes, and rewritten in place by
// flush() after the data, so numpy.load reads a complete array at every flush point (rows appended
// since the last flush may follow the data; numpy ignores them).
class NpyAppender {
 public:
  // Resume with an existing file checks its dtype and trailing shape (an Error naming the file),
  // drops a partial trailing row, and keeps the whole rows it holds (also those written after the
  // last header update).
  NpyAppender(const std::string& path, DType dtype, std::vector<std::int64_t> trailing,
              OpenMode mode = OpenMode::truncate);
  ~NpyAppender();  // flushes; errors there are swallowed: call close() to see them
  NpyAppender(const NpyAppender&) = delete;
  NpyAppender& operator=(const NpyAppender&) = delete;

  // Appends `rows` rows of row_elements() values each (converted to the file's dtype).
  void append(const float* data, std::int64_t rows);
  void append(const double* data, std::int64_t rows);
  // Writes the buffered rows, then the header with the new row count; with sync fsyncs both.
  void flush(bool sync = false);
  void close();
  // Keeps the first n rows and drops the rest. Flushes first.
  void truncate_rows(std::int64_t n);

  const std::string& path() const { return path_; }
  DType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& trailing() const { return trailing_; }
  std::int64_t row_elements() const { return row_elements_; }
  std::int64_t rows() const { return rows_; }  // rows in the file plus buffered ones

 private:
  template <typename T>
  void append_impl(const T* data, std::int64_t rows);
  std::string header(std::int64_t rows) const;
  void open_resume();
  void write_at(const char* data, std::size_t bytes, std::int64_t offset);

  std::string path_;
  DType dtype_;
  std::vector<std::int64_t> trailing_;
  std::int64_t row_elements_ = 1;
  std::int64_t row_bytes_ = 0;
  int fd_ = -1;
  std::int64_t header_bytes_ = 0;  // prefix + header, fixed for the life of the file
  std::int64_t rows_ = 0;          // rows in the file + buffered
  std::int64_t rows_in_file_ = 0;  // rows whose data is written
  std::int64_t rows_in_header_ = -1;
  std::string buffer_;
};

}  // namespace groove::metrics
