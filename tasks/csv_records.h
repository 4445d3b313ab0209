// Pieces shared by groove's CSV loaders (tasks/csv_loader.cpp, tasks/neural_loaders.cpp): records
// read with libcsv (RFC 4180, strict mode) together with the line each starts on, and the cell
// helpers their error messages and numbers use. Internal to tasks/.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace groove::tasks::csv {

// A cell or a name for an error message: quoted, bounded in length, control bytes escaped.
std::string show(std::string_view text, std::size_t max_chars = 60);
// Without leading and trailing blanks and tabs.
std::string_view trim(std::string_view s);

enum class Parsed { ok, not_a_number, overflow };
// A whole cell as a double: decimal or scientific notation, optional sign, surrounding blanks
// allowed; "nan" / "inf" parse (the callers reject them with their own message). Values too small
// for a double become 0.
Parsed parse_number(std::string_view cell, double* out);

// Calls handler(fields, line) for every record of `text` (a UTF-8 BOM and blank lines skipped),
// `line` being the 1-based line the record starts on. Malformed CSV throws naming `what`, the line
// and the character; a handler's exception stops the parse and propagates.
using RecordHandler = std::function<void(const std::vector<std::string>& fields, std::int64_t line)>;
void read_records(std::string_view text, const std::string& what, const RecordHandler& handler);

}  // namespace groove::tasks::csv
