// Run configuration: a YAML file (yaml-cpp) plus command-line overrides, checked against one
// schema that also holds every key's default, range and meaning (docs/config.md is generated from
// it: `groove config --schema`).
//
//   overrides   `key.sub=value` (Hydra style) and `--key.sub value` / `--key.sub=value` (the form
//               sweep agents pass); values are YAML (`model.hidden=[256,256]`).
//   errors      unknown keys, wrong types and out-of-range values throw groove::Error naming the
//               file and line (or the override), the key, what was expected, what was found, and
//               the nearest valid key.
//   sweeps      `sweep.seeds`, `sweep.grid` (Cartesian product) and `sweep.zip` (paired lists) are
//               read here; sweep/sweep.h expands them into runs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace YAML {
class Node;
}

namespace groove::sweep {

// The type of a schema key.
enum class KeyType { integer, number, boolean, string, integer_list, number_list, string_list };

struct KeyInfo {
  std::string key;  // dotted path, e.g. "model.hidden"
  KeyType type;
  std::string default_yaml;          // the default, as YAML text
  std::string doc;                   // one line: what it means
  std::vector<std::string> choices;  // allowed strings (empty: any)
  double min = -1e308, max = 1e308;  // inclusive range of numbers (each element for lists)
  bool min_exclusive = false;
  bool per_model = false;  // may differ between the models of one ensemble
};

// Building blocks of a schema.
KeyInfo make_key(std::string name, KeyType type, std::string def, std::string doc);
KeyInfo with_range(KeyInfo k, double lo, double hi, bool lo_exclusive = false);
KeyInfo with_choices(KeyInfo k, std::vector<std::string> choices);

// Every key groove reads (training runs and sweeps), in documentation order.
const std::vector<KeyInfo>& schema();
const KeyInfo* find_key(const std::string& key);
const KeyInfo* find_key(const std::vector<KeyInfo>& keys, const std::string& key);
// The schema key closest to `key` (edit distance on the dotted path and on its last part).
std::string nearest_key(const std::string& key);
std::string nearest_key(const std::vector<KeyInfo>& keys, const std::string& key);
// docs/config.md's key table (Markdown); the overload renders another schema (groove decode's).
std::string schema_markdown();
std::string schema_markdown(const std::vector<KeyInfo>& keys);

// One resolved value: its YAML text and where it came from ("file.yaml:12", "override 'x=y'",
// "default", "sweep axis").
struct Setting {
  std::string yaml;
  std::string where;
};

// A sweep axis value list, expanded from a YAML list, {range: [start, stop, step]} or
// {logrange: [start, stop, num]}.
struct Axis {
  std::string key;
  std::vector<std::string> values;  // YAML text of each value
  std::string where;
};

struct SweepAxes {
  std::int64_t seeds = 1;
  std::vector<Axis> grid;  // Cartesian product, in file order
  std::vector<Axis> zip;   // paired: all of one length
};

// A validated configuration: every schema key has a value (defaults filled in).
class Config {
 public:
  // Parses `path` (YAML) and applies overrides (each "key=value" or the pair "--key", "value"
  // already joined as "key=value"). Throws groove::Error on the first problem. `keys`: the schema
  // (default: the training schema, with sweep axes and its cross-key checks; another schema, such
  // as groove decode's, has no sweep axes and checks its cross-key rules itself).
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {},
                     const std::vector<KeyInfo>* keys = nullptr);
  // The same from YAML text; `what` names the source in messages.
  static Config parse(const std::string& yaml_text, const std::string& what,
                      const std::vector<std::string>& overrides = {}, const std::vector<KeyInfo>* keys = nullptr);
  // Joins command-line words into "key=value" overrides: "a.b=1" stays, "--a.b 1" and "--a.b=1"
  // become "a.b=1". Throws naming a word that is neither.
  static std::vector<std::string> overrides_from_args(const std::vector<std::string>& args);

  // Sets one key (validated); `where` names the source for messages.
  void set(const std::string& key, const std::string& yaml_value, const std::string& where);

  std::int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::string string(const std::string& key) const;
  std::vector<std::int64_t> integers(const std::string& key) const;
  std::vector<double> numbers(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;
  const Setting& setting(const std::string& key) const;  // throws for keys outside the schema
  const std::string& source() const { return source_; }
  const SweepAxes& axes() const { return axes_; }
  SweepAxes& axes() { return axes_; }

  // The whole configuration as nested YAML (every key; sweep axes when `with_sweep`).
  std::string to_yaml(bool with_sweep = false) const;
  // One canonical line per key "key: value" (sorted), for hashing and grouping; keys in `skip`
  // are left out.
  std::string canonical(const std::vector<std::string>& skip = {}) const;

 private:
  std::string source_;
  const std::vector<KeyInfo>* keys_ = &schema();
  std::map<std::string, Setting> values_;
  SweepAxes axes_;
};

// Checks one YAML value against a key's type and range; returns the canonical YAML text of the
// value. `where` and the key name the value in the error message.
std::string check_value(const KeyInfo& info, const YAML::Node& node, const std::string& where);

}  // namespace groove::sweep
