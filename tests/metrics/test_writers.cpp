// Tests of the run writers (metrics/writers.h): CSV cells that read back bit for bit (by groove's own
// strtod check and by numpy / pandas), resume with header checks and partial-line recovery, NPY
// files that numpy.load reads after every flush, resume with dtype / shape checks and partial-row
// recovery, and groove::Error naming the file on every failure.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/writers.h"
#include "runtime/error.h"
#include "runtime/npy.h"
#include "tests/common/test_util.h"

namespace groove::metrics {
namespace {

using test::TempDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string q(const std::string& s) {
  return "'" + s + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_text(const std::string& path, const std::string& text, bool append = false) {
  std::ofstream out(path, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// The message of the groove::Error that `f` throws (a test failure when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  ADD_FAILURE() << "no groove::Error thrown";
  return "";
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : text) {
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Values that must survive a round trip: extremes, signed zero, subnormals, non-round decimals.
std::vector<std::vector<double>> tricky_rows() {
  return {
      {0, 1e-300, -0.0, kNaN, 0.1},
      {10, kInf, -kInf, kNotComputed, 1.0 / 3.0},
      {1000000, std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(), -1e22, 2.5e-8},
      {9007199254740992.0, std::numeric_limits<double>::min(), 123456789.125, -7.0, kNotComputed},
      {10000001, 0.30000000000000004, -2.2250738585072014e-308, 1e16, 6.02214076e23},
  };
}

const std::vector<CsvColumn> kColumns = {
    {"step", true}, {"loss", false}, {"a,b", false}, {"say \"hi\"", false}, {"acc", false}};

TEST(Writers, CsvCellsRoundTripExactly) {
  TempDir dir;
  const std::string path = dir.file("metrics.csv");
  const auto rows = tricky_rows();
  {
    CsvWriter w(path, kColumns);
    for (const auto& r : rows) w.write_row(r);
    EXPECT_EQ(w.rows(), 5);
    w.close();
  }
  const std::vector<std::string> lines = split_lines(read_text(path));
  ASSERT_EQ(lines.size(), rows.size() + 1);
  EXPECT_EQ(lines[0], "step,loss,\"a,b\",\"say \"\"hi\"\"\",acc");
  EXPECT_EQ(lines[1], "0,1e-300,-0,nan,0.1");
  EXPECT_EQ(lines[2], "10,inf,-inf,,0.3333333333333333");
  EXPECT_EQ(lines[3].substr(0, 8), "1000000,");  // an integer column, not 1e+06
  EXPECT_EQ(lines[4].substr(0, 17), "9007199254740992,");
  EXPECT_EQ(lines[4].back(), ',');  // trailing not-computed cell
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::vector<std::string> cells = split_cells(lines[r + 1]);
    ASSERT_EQ(cells.size(), 5u) << lines[r + 1];
    for (std::size_t c = 0; c < 5; ++c) {
      const double v = rows[r][c];
      if (is_not_computed(v)) {
        EXPECT_EQ(cells[c], "");
      } else if (std::isnan(v)) {
        EXPECT_EQ(cells[c], "nan");
      } else {
        EXPECT_TRUE(same_bits(std::strtod(cells[c].c_str(), nullptr), v)) << cells[c] << " vs " << v;
      }
    }
  }
}

TEST(Writers, NotComputedConstants) {
  EXPECT_TRUE(std::isnan(kNotComputed));
  EXPECT_TRUE(is_not_computed(kNotComputed));
  EXPECT_TRUE(is_not_computed(kNotComputedF32));
  EXPECT_TRUE(is_not_computed(static_cast<double>(kNotComputedF32)));
  EXPECT_FALSE(is_not_computed(kNaN));
  EXPECT_FALSE(is_not_computed(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_FALSE(is_not_computed(0.0));
  // Copies keep the payload.
  std::vector<double> v = {kNotComputed};
  const double copy = v[0];
  EXPECT_TRUE(is_not_computed(copy));
}

// Reads CSV files with numpy (genfromtxt) and, when installed, pandas, saving each as .npy.
const char* const kCsvScript = R"(
import sys
import numpy as np
path, out = sys.argv[1], sys.argv[2]
a = np.genfromtxt(path, delimiter=',', skip_header=1, dtype=np.float64, ndmin=2)
np.save(out + '.numpy.npy', a)
try:
    import pandas as pd
except ImportError:
    print('pandas not installed')
    sys.exit(0)
df = pd.read_csv(path, float_precision='round_trip')  # pandas' default parser may be off by an ulp
assert list(df.columns) == ['step', 'loss', 'a,b', 'say "hi"', 'acc'], list(df.columns)
np.save(out + '.pandas.npy', df.to_numpy(dtype=np.float64))
)";

TEST(Writers, CsvReadsBackWithNumpyAndPandas) {
  if (test::python().empty()) GTEST_SKIP() << "no Python with numpy found at configure time";
  TempDir dir;
  const std::string path = dir.file("metrics.csv");
  const auto rows = tricky_rows();
  {
    CsvWriter w(path, kColumns);
    for (const auto& r : rows) w.write_row(r);
  }
  write_text(dir.file("read_csv.py"), kCsvScript);
  std::string out;
  const int rc = test::run_python(q(dir.file("read_csv.py")), q(path) + " " + q(dir.file("back")), &out);
  ASSERT_EQ(rc, 0) << out;
  for (const std::string reader : {"numpy", "pandas"}) {
    const std::string npy = dir.file("back." + reader + ".npy");
    if (!std::filesystem::exists(npy)) {
      EXPECT_EQ(reader, "pandas") << out;
      continue;
    }
    const Tensor t = read_npy(npy);
    ASSERT_EQ(t.shape(), Shape({5, 5})) << reader;
    for (std::int64_t r = 0; r < 5; ++r) {
      for (std::int64_t c = 0; c < 5; ++c) {
        const double v = rows[r][c], got = t.data<double>()[r * 5 + c];
        if (std::isnan(v)) {
          EXPECT_TRUE(std::isnan(got)) << reader << " row " << r << " col " << c;
        } else {
          EXPECT_TRUE(same_bits(got, v)) << reader << " row " << r << " col " << c << ": " << got << " vs " << v;
        }
      }
    }
  }
}

TEST(Writers, CsvResumeAppendsAndChecksTheHeader) {
  TempDir dir;
  const std::string path = dir.file("m.csv");
  const std::vector<CsvColumn> cols = {{"step", true}, {"loss", false}};
  {
    CsvWriter w(path, cols, OpenMode::resume);  // no file yet: created
    w.write_row({0, 1.5});
    w.write_row({10, 1.25});
    w.flush();
    EXPECT_EQ(read_text(path), "step,loss\n0,1.5\n10,1.25\n");
  }
  {
    CsvWriter w(path, cols, OpenMode::resume);
    EXPECT_EQ(w.rows(), 2);
    w.write_row({20, 1.0});
  }
  EXPECT_EQ(read_text(path), "step,loss\n0,1.5\n10,1.25\n20,1\n");

  // A differing column name, a missing and an extra column: errors naming the file and the column.
  std::string msg = error_of([&] { CsvWriter w(path, {{"step", true}, {"lost", false}}, OpenMode::resume); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("column 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"loss\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"lost\""), std::string::npos) << msg;
  msg = error_of([&] { CsvWriter w(path, {{"step", true}, {"loss", false}, {"acc", false}}, OpenMode::resume); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"acc\""), std::string::npos) << msg;
  msg = error_of([&] { CsvWriter w(path, std::vector<CsvColumn>{{"step"}}, OpenMode::resume); });
  EXPECT_NE(msg.find("\"loss\""), std::string::npos) << msg;
  // The failed resumes left the file alone.
  EXPECT_EQ(read_text(path), "step,loss\n0,1.5\n10,1.25\n20,1\n");

  // Quoted names are parsed back when resuming.
  const std::string quoted = dir.file("quoted.csv");
  { CsvWriter w(quoted, kColumns); }
  {
    CsvWriter w(quoted, kColumns, OpenMode::resume);
    EXPECT_EQ(w.rows(), 0);
  }

  // truncate replaces an existing file.
  {
    CsvWriter w(path, cols, OpenMode::truncate);
    w.write_row({5, 2.0});
  }
  EXPECT_EQ(read_text(path), "step,loss\n5,2\n");
}

TEST(Writers, CsvResumeTruncatesAPartialLastLine) {
  TempDir dir;
  const std::string path = dir.file("m.csv");
  const std::vector<CsvColumn> cols = {{"step", true}, {"loss", false}};
  write_text(path, "step,loss\n0,1.5\n10,1.2");  // a crash mid-row
  {
    CsvWriter w(path, cols, OpenMode::resume);
    EXPECT_EQ(w.rows(), 1);
    w.write_row({10, 1.25});
  }
  EXPECT_EQ(read_text(path), "step,loss\n0,1.5\n10,1.25\n");

  // A crash while the header was written: it is rewritten.
  write_text(path, "step,lo");
  {
    CsvWriter w(path, cols, OpenMode::resume);
    EXPECT_EQ(w.rows(), 0);
    w.write_row({0, 3.0});
  }
  EXPECT_EQ(read_text(path), "step,loss\n0,3\n");
  // A partial line that is not our header: an error.
  write_text(path, "time,lo");
  const std::string msg = error_of([&] { CsvWriter w(path, cols, OpenMode::resume); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  // An empty file starts over.
  write_text(path, "");
  { CsvWriter w(path, cols, OpenMode::resume); }
  EXPECT_EQ(read_text(path), "step,loss\n");
}

TEST(Writers, CsvTruncateRowsAndBuffering) {
  TempDir dir;
  const std::string path = dir.file("m.csv");
  CsvWriter w(path, {{"step", true}, {"x", false}});
  // Enough rows to pass the internal buffer limit several times.
  const int n = 300000;
  for (int r = 0; r < n; ++r) w.write_row({static_cast<double>(r), r * 0.5});
  w.flush();
  EXPECT_EQ(w.rows(), n);
  w.truncate_rows(3);
  EXPECT_EQ(w.rows(), 3);
  w.write_row({99, 1.0});
  w.flush();
  EXPECT_EQ(read_text(path), "step,x\n0,0\n1,0.5\n2,1\n99,1\n");
  EXPECT_THROW(w.truncate_rows(5), Error);
  EXPECT_THROW(w.write_row({1.0}), Error);  // wrong number of values
  w.close();
  EXPECT_THROW(w.write_row({1.0, 2.0}), Error);
}

TEST(Writers, CsvErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("no/such/folder/m.csv");
  std::string msg = error_of([&] { CsvWriter w(missing, std::vector<CsvColumn>{{"step"}}); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  // /dev/full: every write fails with ENOSPC ("disk full").
  if (std::filesystem::exists("/dev/full")) {
    msg = error_of([&] { CsvWriter w("/dev/full", std::vector<CsvColumn>{{"step"}}); });
    EXPECT_NE(msg.find("/dev/full"), std::string::npos) << msg;
  }
  EXPECT_THROW(CsvWriter(dir.file("x.csv"), std::vector<CsvColumn>{}), Error);
  EXPECT_THROW(CsvWriter(dir.file("x.csv"), std::vector<CsvColumn>{{"a\nb"}}), Error);
}

// ---- NPY ------------------------------------------------------------------------------------

// Row r of the test data: value r * 100 + e for element e (exact in f32).
std::vector<double> npy_rows(std::int64_t first, std::int64_t n, std::int64_t per_row) {
  std::vector<double> v;
  for (std::int64_t r = first; r < first + n; ++r) {
    for (std::int64_t e = 0; e < per_row; ++e) v.push_back(static_cast<double>(r * 100 + e) + 0.25);
  }
  return v;
}

::testing::AssertionResult npy_holds(const std::string& path, DType dtype, const Shape& shape) {
  const Tensor t = read_npy(path);
  if (t.dtype() != dtype || t.shape() != shape) {
    return ::testing::AssertionFailure() << path << ": " << t.str() << ", expected " << shape.str();
  }
  const std::int64_t per_row = shape[0] == 0 ? 0 : t.numel() / shape[0];
  const std::vector<double> ref = npy_rows(0, shape[0], per_row);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (t.value(i) != ref[static_cast<std::size_t>(i)]) {
      return ::testing::AssertionFailure()
             << path << ": element " << i << " is " << t.value(i) << ", expected " << ref[static_cast<std::size_t>(i)];
    }
  }
  return ::testing::AssertionSuccess();
}

// Loads each NPY file with numpy.load and checks shape, dtype and the npy_rows values; the last
// argument `FILE:rows` also resumes a file np.save wrote (see NpyResumesAFileNumpyWrote).
const char* const kNpyScript = R"(
import sys
import numpy as np
for spec in sys.argv[1:]:
    path, dtype, shape = spec.split('|')
    shape = tuple(int(s) for s in shape.split('x')) if shape else ()
    a = np.load(path)
    assert a.dtype == np.dtype(dtype), (path, a.dtype, dtype)
    assert a.shape == shape, (path, a.shape, shape)
    per_row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    ref = (np.arange(shape[0])[:, None] * 100 + np.arange(per_row)[None, :] + 0.25).reshape(shape)
    assert np.array_equal(a, ref.astype(dtype)), (path, a, ref)
print('ok', len(sys.argv) - 1)
)";

std::string spec(const std::string& path, const std::string& dtype, const std::vector<std::int64_t>& shape) {
  std::string s = path + "|" + dtype + "|";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return q(s);
}

TEST(Writers, NpyLoadsAfterEveryFlush) {
  TempDir dir;
  const std::string path = dir.file("examples.npy");
  NpyAppender a(path, DType::f32, {3, 2});
  EXPECT_EQ(a.row_elements(), 6);
  // Empty at creation.
  EXPECT_TRUE(npy_holds(path, DType::f32, {0, 3, 2}));
  std::vector<std::string> specs = {spec(path + ".0", "float32", {0, 3, 2})};
  std::filesystem::copy_file(path, path + ".0");
  std::int64_t rows = 0;
  for (int k = 1; k <= 4; ++k) {
    const std::int64_t n = k * 3;
    const std::vector<double> v = npy_rows(rows, n, 6);
    // f32 from float data; also exercises the f64 -> f32 conversion on odd chunks.
    if (k % 2) {
      a.append(v.data(), n);
    } else {
      std::vector<float> f(v.begin(), v.end());
      a.append(f.data(), n);
    }
    rows += n;
    EXPECT_EQ(a.rows(), rows);
    a.flush(k == 4);
    EXPECT_TRUE(npy_holds(path, DType::f32, {rows, 3, 2}));
    std::filesystem::copy_file(path, path + "." + std::to_string(k));
    specs.push_back(spec(path + "." + std::to_string(k), "float32", {rows, 3, 2}));
  }
  // The header keeps its size and the data starts 64-byte aligned.
  const std::string bytes = read_text(path);
  const std::size_t header = 10 + (static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8));
  EXPECT_EQ(header % 64, 0u);
  EXPECT_EQ(bytes.size(), header + static_cast<std::size_t>(rows) * 6 * 4);

  // 1-D rows and f64.
  const std::string flat = dir.file("flat.npy");
  {
    NpyAppender b(flat, DType::f64, {});
    const std::vector<double> v = npy_rows(0, 7, 1);
    b.append(v.data(), 7);
  }
  EXPECT_TRUE(npy_holds(flat, DType::f64, {7}));
  specs.push_back(spec(flat, "float64", {7}));

  if (test::python().empty()) GTEST_SKIP() << "no Python with numpy found at configure time";
  write_text(dir.file("load.py"), kNpyScript);
  std::string args;
  for (const std::string& s : specs) args += " " + s;
  std::string out;
  const int rc = test::run_python(q(dir.file("load.py")), args, &out);
  EXPECT_EQ(rc, 0) << out;
}

TEST(Writers, NpyUnflushedDataPastTheHeaderStillLoads) {
  // Appends beyond the internal buffer write data before the header is updated; numpy then reads
  // the rows of the last flush, and resume keeps every whole row.
  TempDir dir;
  const std::string path = dir.file("big.npy");
  const std::int64_t per_row = 1000;
  std::int64_t flushed = 0;
  {
    NpyAppender a(path, DType::f64, {per_row});
    const std::vector<double> first = npy_rows(0, 2, per_row);
    a.append(first.data(), 2);
    a.flush();
    flushed = 2;
    const std::vector<double> more = npy_rows(2, 600, per_row);  // 4.8 MB: passes the buffer limit
    a.append(more.data(), 600);
    std::filesystem::copy_file(path, path + ".mid");
    // Destructor flushes.
  }
  EXPECT_TRUE(npy_holds(path, DType::f64, {602, per_row}));
  const std::string mid = read_text(path + ".mid");
  EXPECT_GT(mid.size(), 128u + static_cast<std::size_t>(flushed * per_row * 8));
  if (!test::python().empty()) {
    write_text(dir.file("load.py"), kNpyScript);
    std::string out;
    const int rc = test::run_python(q(dir.file("load.py")), spec(path + ".mid", "float64", {flushed, per_row}), &out);
    EXPECT_EQ(rc, 0) << out;
  }
  // Resume from the mid-way copy: every whole row written counts.
  {
    NpyAppender a(path + ".mid", DType::f64, {per_row}, OpenMode::resume);
    EXPECT_GT(a.rows(), flushed);
    EXPECT_TRUE(npy_holds(path + ".mid", DType::f64, {a.rows(), per_row}));
  }
}

TEST(Writers, NpyResumeAppendsAndDropsAPartialRow) {
  TempDir dir;
  const std::string path = dir.file("e.npy");
  {
    NpyAppender a(path, DType::f32, {4}, OpenMode::resume);  // no file yet: created
    const std::vector<double> v = npy_rows(0, 5, 4);
    a.append(v.data(), 5);
  }
  EXPECT_TRUE(npy_holds(path, DType::f32, {5, 4}));
  // A crash mid-append: one whole unflushed row plus half a row after the data.
  {
    const std::vector<double> v = npy_rows(5, 2, 4);
    std::vector<float> f(v.begin(), v.end());
    write_text(path, std::string(reinterpret_cast<const char*>(f.data()), 4 * 4 + 2 * 4), true);
  }
  {
    NpyAppender a(path, DType::f32, {4}, OpenMode::resume);
    EXPECT_EQ(a.rows(), 6);
    EXPECT_TRUE(npy_holds(path, DType::f32, {6, 4}));  // already consistent after the resume
    const std::vector<double> v = npy_rows(6, 3, 4);
    a.append(v.data(), 3);
    a.flush();
    EXPECT_TRUE(npy_holds(path, DType::f32, {9, 4}));
    a.truncate_rows(7);
    EXPECT_EQ(a.rows(), 7);
    EXPECT_TRUE(npy_holds(path, DType::f32, {7, 4}));
    EXPECT_THROW(a.truncate_rows(8), Error);
  }
  EXPECT_TRUE(npy_holds(path, DType::f32, {7, 4}));

  // Wrong dtype or trailing shape: errors naming the file; the file is untouched.
  const std::string before = read_text(path);
  std::string msg = error_of([&] { NpyAppender a(path, DType::f64, {4}, OpenMode::resume); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("<f4"), std::string::npos) << msg;
  msg = error_of([&] { NpyAppender a(path, DType::f32, {2, 2}, OpenMode::resume); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("(7, 4)"), std::string::npos) << msg;
  EXPECT_EQ(read_text(path), before);
  // Not an NPY file.
  write_text(dir.file("text.npy"), "hello, world\n");
  msg = error_of([&] { NpyAppender a(dir.file("text.npy"), DType::f32, {4}, OpenMode::resume); });
  EXPECT_NE(msg.find(dir.file("text.npy")), std::string::npos) << msg;
  // truncate replaces the file.
  { NpyAppender a(path, DType::f64, {2}); }
  EXPECT_TRUE(npy_holds(path, DType::f64, {0, 2}));
}

TEST(Writers, NpyResumesAFileNumpyWrote) {
  if (test::python().empty()) GTEST_SKIP() << "no Python with numpy found at configure time";
  TempDir dir;
  const std::string path = dir.file("np.npy");
  write_text(dir.file("save.py"),
             "import sys\nimport numpy as np\n"
             "a = (np.arange(2)[:, None] * 100 + np.arange(3)[None, :] + 0.25).astype(np.float32)\n"
             "np.save(sys.argv[1], a)\n");
  std::string out;
  ASSERT_EQ(test::run_python(q(dir.file("save.py")), q(path), &out), 0) << out;
  {
    NpyAppender a(path, DType::f32, {3}, OpenMode::resume);
    EXPECT_EQ(a.rows(), 2);
    const std::vector<double> v = npy_rows(2, 4, 3);
    a.append(v.data(), 4);
  }
  EXPECT_TRUE(npy_holds(path, DType::f32, {6, 3}));
  write_text(dir.file("load.py"), kNpyScript);
  EXPECT_EQ(test::run_python(q(dir.file("load.py")), spec(path, "float32", {6, 3}), &out), 0) << out;
}

TEST(Writers, NpyErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("no/such/folder/e.npy");
  std::string msg = error_of([&] { NpyAppender a(missing, DType::f32, {2}); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  if (std::filesystem::exists("/dev/full")) {
    msg = error_of([&] { NpyAppender a("/dev/full", DType::f32, {2}); });
    EXPECT_NE(msg.find("/dev/full"), std::string::npos) << msg;
  }
  EXPECT_THROW(NpyAppender(dir.file("i.npy"), DType::i32, {2}), Error);
  EXPECT_THROW(NpyAppender(dir.file("n.npy"), DType::f32, {-1}), Error);
  NpyAppender a(dir.file("ok.npy"), DType::f32, {2});
  EXPECT_THROW(a.append(static_cast<const float*>(nullptr), 1), Error);
  EXPECT_THROW(a.append(static_cast<const float*>(nullptr), -1), Error);
  a.close();
  const float x[2] = {1, 2};
  EXPECT_THROW(a.append(x, 1), Error);
}

}  // namespace
}  // namespace groove::metrics
