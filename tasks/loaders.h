// Loaders for user data: NPZ archives / folders of NPY files (numpy) and CSV files. Both build
// one validated Dataset on the host: every malformed or inconsistent input throws groove::Error
// naming the file and the problem (the array and index, or the CSV line and column), never a
// crash. File formats and every validation rule are documented in docs/data.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/dtype.h"
#include "tasks/dataset.h"

namespace groove::tasks {

// An .npz archive (np.savez / np.savez_compressed) or a folder of .npy files, with the arrays
//   X_train [n, D]   features (float or integer)                       required
//   y_train [n]      integer class labels (floats must be whole numbers) required
//   w_train [n]      example weights, finite and >= 0                  optional
//   X_test  [m, D]   held-out features                                 optional (with y_test)
//   y_test  [m]      held-out labels                                   optional (with X_test)
//   group_test [m]   integer group id of each test row, >= 0           optional (with X_test)
// Group names for the ids come from the JSON list `<stem>.groups.json` beside the archive
// (`groups.json` inside a folder), else "group_<id>". Rows: train rows, then test rows. Groups:
// "train", "test" (every test row) and one per distinct group id, in id order. num_classes is the
// largest label + 1; every class needs a train example. Features are converted to `dtype`.
Dataset load_npz_dataset(const std::string& path_or_dir, DType dtype = DType::f32);

struct CsvOptions {
  std::string label_column;                  // required
  std::vector<std::string> feature_columns;  // empty: every column but the label and group ones
  // Optional: rows whose value in this column equals train_group go to "train"; every other row
  // goes to "test" and to a group named after its value. Without it every row is a train row.
  std::string group_column;
  std::string train_group = "train";
  DType dtype = DType::f32;
};

// A CSV file (RFC 4180 quoting, comma separated, header row required). Labels are integer class
// ids, or names mapped to ids in order of first appearance (recorded in Dataset::info as
// "class:<name>" = id). Rows keep the file's order.
Dataset load_csv_dataset(const std::string& path, const CsvOptions& options);
// The same on CSV text in memory; `what` names the source in error messages.
Dataset parse_csv_dataset(std::string_view text, const std::string& what, const CsvOptions& options);

}  // namespace groove::tasks
