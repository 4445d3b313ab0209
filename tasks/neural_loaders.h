// Neural population recordings from numpy files and CSV files -> NeuralDataset (tasks/neural.h),
// the input of the decoding job (groove decode); the third producer is the Neural Decoding Toolbox
// raster loader (tasks/ndt.h). Like the Dataset loaders (tasks/loaders.h), every malformed or
// inconsistent input throws groove::Error naming the file and the problem (the array and the
// index, or the CSV line and column, and what was expected vs found), never a crash; the result is
// checked with NeuralDataset::validate. Formats and every rule: docs/data.md, "Neural recordings
// (groove decode input)".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/neural.h"

namespace groove::tasks {

// Label text -> TrialLabel (0 nontarget, 1 target, 2 probe). Keys are compared case-insensitively,
// ignoring leading/trailing blanks; a numeric cell that is a whole number also matches its integer
// text ("1.0" matches "1").
struct NeuralLabelMap {
  std::map<std::string, int> values = {{"target", 1}, {"nontarget", 0}, {"non-target", 0}, {"probe", 2},
                                       {"0", 0},      {"1", 1},         {"2", 2}};
};

// An .npz archive (np.savez / np.savez_compressed) or a folder of .npy files holding, for the
// sessions i = 0 .. S-1 (numbered without gaps, S >= 1):
//   responses_<i> [trials_i, neurons_i]  float or integer (converted to f64), finite     required
//   labels_<i>    [trials_i]             integer 0 nontarget / 1 target / 2 probe       required
//   stimulus_<i>  [trials_i]             integer odor identity >= 0                     optional
//                                        (per session; without it stimulus = -1)
//   subject       [S]                    integer subject id >= 0       optional (default 0 for all)
//   day           [S]                    integer recording day         optional (default i + 1)
// Integer arrays may also be stored as floats holding whole numbers. Names come from the optional
// JSON sidecar `<stem>.neural.json` beside the archive (`neural.json` inside a folder):
//   {"subjects": ["M1", "M2"], "neurons": {"0": ["n0", ...], "1": [...]}}
// subjects[id] names subject id (default "S<id>"); neurons["<i>"] names the neurons of session i
// (default "n<j>"). Session key "<subject>/day<day>"; (subject, day) pairs must be unique.
// Sessions are ordered by subject id, then day (not by archive index); trials and neurons keep the
// arrays' order. source = path_or_dir.
NeuralDataset load_neural_npz(const std::string& path_or_dir);

struct NeuralCsvOptions {
  std::string subject_column = "subject";
  std::string day_column = "day";
  std::string label_column = "label";
  std::string stimulus_column;              // optional; empty: stimulus = -1 for every trial
  std::vector<std::string> neuron_columns;  // empty: every column but the four above
  NeuralLabelMap labels;
};

// A wide CSV file (RFC 4180 quoting, comma separated, header row required), one row per trial:
// subject, day (an integer), label (text mapped by `labels`), optionally stimulus, and one column
// per neuron. Rows with the same (subject, day) form a session; its trials keep the file's order.
// A session uses the neuron columns that are non-empty in its rows: such a column must be non-empty
// in every row of the session, and a column empty in all of a session's rows is not part of that
// session (neuron_ids are the column names). Stimulus values are all integers >= 0, or all names
// (mapped to ids 0, 1, ... in order of first appearance in the file). Sessions are ordered by
// subject in order of first appearance, then by day. source = path.
NeuralDataset load_neural_csv(const std::string& path, const NeuralCsvOptions& options = {});
// The same on CSV text in memory; `what` names the source in error messages and is the source.
NeuralDataset parse_neural_csv(std::string_view text, const std::string& what, const NeuralCsvOptions& options = {});

}  // namespace groove::tasks
