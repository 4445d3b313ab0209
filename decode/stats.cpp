// Host pieces of the decode pipeline: preprocessing, folds and permutations, RSM blocks, PCA,
// smoothing and trends (decode/decode.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "decode/decode.h"
#include "runtime/error.h"
#include "runtime/philox.h"

namespace groove::decode {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// 64-bit sort key i of (seed, stream): two words of counter block i / 2.
std::uint64_t sort_key(std::uint64_t seed, std::uint64_t stream, std::int64_t i) {
  const U32x4 w = philox_block(seed, stream, static_cast<std::uint64_t>(i / 2));
  const int lane = static_cast<int>(i % 2) * 2;
  return (static_cast<std::uint64_t>(w.v[lane]) << 32) | w.v[lane + 1];
}

// Indices sorted by their Philox keys (ties, which need equal 64-bit keys, by index).
std::vector<std::int64_t> keyed_order(const std::vector<std::int64_t>& items, std::uint64_t seed,
                                      std::uint64_t stream) {
  std::vector<std::pair<std::uint64_t, std::int64_t>> keyed(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    keyed[i] = {sort_key(seed, stream, static_cast<std::int64_t>(i)), items[i]};
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int64_t> out(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) out[i] = keyed[i].second;
  return out;
}

}  // namespace

Session preprocess(const tasks::NeuralSession& s, const PreprocessOptions& o, std::int64_t session_index) {
  const std::int64_t trials = s.responses.dim(0), neurons = s.responses.dim(1);
  const double* r = s.responses.data<double>();
  Session out;
  out.subject = s.subject;
  out.key = s.key;
  out.day = s.day;
  out.trials = trials;
  out.labels = s.labels;
  out.stimulus = s.stimulus;
  std::vector<std::int64_t> kept;
  std::vector<double> mean(static_cast<std::size_t>(neurons), 0.0), sd(static_cast<std::size_t>(neurons), 0.0);
  for (std::int64_t n = 0; n < neurons; ++n) {
    double sum = 0;
    for (std::int64_t t = 0; t < trials; ++t) sum += r[t * neurons + n];
    const double m = trials > 0 ? sum / static_cast<double>(trials) : 0.0;
    double ss = 0;
    for (std::int64_t t = 0; t < trials; ++t) ss += (r[t * neurons + n] - m) * (r[t * neurons + n] - m);
    mean[static_cast<std::size_t>(n)] = m;
    sd[static_cast<std::size_t>(n)] = trials > 0 ? std::sqrt(ss / static_cast<double>(trials)) : 0.0;
    // A constant neuron carries nothing and cannot be z-scored: dropped with the silent ones.
    if (sum >= o.min_spikes && sd[static_cast<std::size_t>(n)] > 0) kept.push_back(n);
  }
  if (o.pseudo_population > 0) {
    GROOVE_CHECK(static_cast<std::int64_t>(kept.size()) >= o.pseudo_population, "session ", s.key, " has ", kept.size(),
                 " neurons after preprocessing, fewer than preprocess.pseudo_population = ", o.pseudo_population);
    std::vector<std::int64_t> order =
        keyed_order(kept, o.seed, 0x5053000000000000ull + static_cast<std::uint64_t>(session_index));
    order.resize(static_cast<std::size_t>(o.pseudo_population));
    std::sort(order.begin(), order.end());
    kept = order;
  }
  out.neurons = static_cast<std::int64_t>(kept.size());
  out.dropped = neurons - out.neurons;
  out.x.resize(static_cast<std::size_t>(trials * out.neurons));
  for (std::int64_t t = 0; t < trials; ++t) {
    for (std::int64_t j = 0; j < out.neurons; ++j) {
      const std::int64_t n = kept[static_cast<std::size_t>(j)];
      const double v = r[t * neurons + n];
      out.x[static_cast<std::size_t>(t * out.neurons + j)] =
          o.zscore ? (v - mean[static_cast<std::size_t>(n)]) / sd[static_cast<std::size_t>(n)] : v;
    }
  }
  for (std::int64_t n : kept) {
    out.neuron_ids.push_back(static_cast<std::size_t>(n) < s.neuron_ids.size()
                                 ? s.neuron_ids[static_cast<std::size_t>(n)]
                                 : "n" + std::to_string(n));
  }
  return out;
}

std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  std::vector<std::int64_t> items(static_cast<std::size_t>(n));
  std::iota(items.begin(), items.end(), 0);
  return keyed_order(items, seed, stream);
}

std::vector<std::int32_t> stratified_folds(const std::vector<std::int32_t>& labels, int folds, std::uint64_t seed,
                                           std::uint64_t stream) {
  std::vector<std::int32_t> fold(labels.size(), -1);
  std::int64_t dealt = 0;
  for (std::int32_t cls : {static_cast<std::int32_t>(tasks::TrialLabel::target),
                           static_cast<std::int32_t>(tasks::TrialLabel::nontarget)}) {
    std::vector<std::int64_t> members;
    for (std::size_t t = 0; t < labels.size(); ++t)
      if (labels[t] == cls) members.push_back(static_cast<std::int64_t>(t));
    const std::vector<std::int64_t> order = keyed_order(members, seed, stream * 2 + (cls == 1 ? 0 : 1));
    for (std::int64_t t : order) fold[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(dealt++ % folds);
  }
  return fold;
}

namespace {

// The trial vector v [neurons] centred and scaled to unit norm (Pearson correlation = dot product
// of two such vectors), added to `into` (or written to it when `add` is false). A flat vector
// correlates with nothing: it contributes zeros.
void add_normalized(const double* v, std::int64_t neurons, double* into, bool add) {
  double m = 0;
  for (std::int64_t j = 0; j < neurons; ++j) m += v[j];
  m /= static_cast<double>(neurons);
  double ss = 0;
  for (std::int64_t j = 0; j < neurons; ++j) ss += (v[j] - m) * (v[j] - m);
  const double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
  for (std::int64_t j = 0; j < neurons; ++j) into[j] = (add ? into[j] : 0.0) + (v[j] - m) * inv;
}

}  // namespace

RsmBlocks rsm_blocks(const std::vector<double>& x, std::int64_t trials, std::int64_t neurons,
                     const std::vector<std::int32_t>& labels) {
  std::vector<double> sum_t(static_cast<std::size_t>(neurons), 0.0), sum_n(static_cast<std::size_t>(neurons), 0.0);
  std::int64_t nt = 0, nn = 0;
  for (std::int64_t t = 0; t < trials; ++t) {
    const std::int32_t l = labels[static_cast<std::size_t>(t)];
    if (l != 0 && l != 1) continue;
    add_normalized(x.data() + t * neurons, neurons, (l == 1 ? sum_t : sum_n).data(), true);
    (l == 1 ? nt : nn) += 1;
  }
  auto dot = [&](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
    return s;
  };
  RsmBlocks r;
  const double dt = static_cast<double>(nt), dn = static_cast<double>(nn);
  r.target = nt > 1 ? (dot(sum_t, sum_t) - dt) / (dt * (dt - 1)) : kNaN;
  r.nontarget = nn > 1 ? (dot(sum_n, sum_n) - dn) / (dn * (dn - 1)) : kNaN;
  r.between = nt > 0 && nn > 0 ? dot(sum_t, sum_n) / (dt * dn) : kNaN;
  r.index = (r.target + r.nontarget) / 2 - r.between;
  return r;
}

std::vector<double> rsm_matrix(const std::vector<double>& x, std::int64_t trials, std::int64_t neurons) {
  std::vector<double> u(x.size());
  for (std::int64_t t = 0; t < trials; ++t)
    add_normalized(x.data() + t * neurons, neurons, u.data() + t * neurons, false);
  std::vector<double> r(static_cast<std::size_t>(trials * trials));
  for (std::int64_t a = 0; a < trials; ++a) {
    for (std::int64_t b = a; b < trials; ++b) {
      double s = 0;
      for (std::int64_t j = 0; j < neurons; ++j)
        s += u[static_cast<std::size_t>(a * neurons + j)] * u[static_cast<std::size_t>(b * neurons + j)];
      r[static_cast<std::size_t>(a * trials + b)] = r[static_cast<std::size_t>(b * trials + a)] = s;
    }
  }
  return r;
}

namespace {

// Eigen-decomposition of a small symmetric matrix a [n, n] by cyclic Jacobi rotations:
// eigenvalues (descending) and eigenvectors as the columns of v.
void jacobi_eigen(std::vector<double> a, std::int64_t n, std::vector<double>& values, std::vector<double>& v) {
  v.assign(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i * n + i)] = 1.0;
  auto A = [&](std::int64_t i, std::int64_t j) -> double& { return a[static_cast<std::size_t>(i * n + j)]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, total = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) (i == j ? total : off) += A(i, j) * A(i, j);
    if (off <= 1e-30 * (total + off) || off == 0) break;
    for (std::int64_t p = 0; p < n; ++p) {
      for (std::int64_t q = p + 1; q < n; ++q) {
        if (A(p, q) == 0) continue;
        const double theta = (A(q, q) - A(p, p)) / (2 * A(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (std::int64_t k = 0; k < n; ++k) {
          const double akp = A(k, p), akq = A(k, q);
          A(k, p) = c * akp - s * akq;
          A(k, q) = s * akp + c * akq;
        }
        for (std::int64_t k = 0; k < n; ++k) {
          const double apk = A(p, k), aqk = A(q, k);
          A(p, k) = c * apk - s * aqk;
          A(q, k) = s * apk + c * aqk;
        }
        for (std::int64_t k = 0; k < n; ++k) {
          double& vkp = v[static_cast<std::size_t>(k * n + p)];
          double& vkq = v[static_cast<std::size_t>(k * n + q)];
          const double x = vkp, y = vkq;
          vkp = c * x - s * y;
          vkq = s * x + c * y;
        }
      }
    }
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t i, std::int64_t j) { return A(i, i) > A(j, j); });
  values.resize(static_cast<std::size_t>(n));
  std::vector<double> sorted(static_cast<std::size_t>(n * n));
  for (std::int64_t c = 0; c < n; ++c) {
    values[static_cast<std::size_t>(c)] = A(order[static_cast<std::size_t>(c)], order[static_cast<std::size_t>(c)]);
    for (std::int64_t r = 0; r < n; ++r)
      sorted[static_cast<std::size_t>(r * n + c)] =
          v[static_cast<std::size_t>(r * n + order[static_cast<std::size_t>(c)])];
  }
  v = std::move(sorted);
}

}  // namespace

PcaResult pca(const std::vector<double>& x, std::int64_t trials, std::int64_t neurons, std::int64_t k) {
  PcaResult out;
  out.k = std::min(k, neurons);
  std::vector<double> mean(static_cast<std::size_t>(neurons), 0.0);
  for (std::int64_t t = 0; t < trials; ++t)
    for (std::int64_t j = 0; j < neurons; ++j)
      mean[static_cast<std::size_t>(j)] += x[static_cast<std::size_t>(t * neurons + j)];
  for (double& m : mean) m /= static_cast<double>(std::max<std::int64_t>(trials, 1));
  // Covariance (upper triangle, then mirrored).
  std::vector<double> cov(static_cast<std::size_t>(neurons * neurons), 0.0);
  for (std::int64_t t = 0; t < trials; ++t) {
    const double* v = x.data() + t * neurons;
    for (std::int64_t i = 0; i < neurons; ++i) {
      const double di = v[i] - mean[static_cast<std::size_t>(i)];
      for (std::int64_t j = i; j < neurons; ++j)
        cov[static_cast<std::size_t>(i * neurons + j)] += di * (v[j] - mean[static_cast<std::size_t>(j)]);
    }
  }
  for (std::int64_t i = 0; i < neurons; ++i)
    for (std::int64_t j = 0; j < i; ++j)
      cov[static_cast<std::size_t>(i * neurons + j)] = cov[static_cast<std::size_t>(j * neurons + i)];
  double trace = 0;
  for (std::int64_t i = 0; i < neurons; ++i) trace += cov[static_cast<std::size_t>(i * neurons + i)];
  std::vector<double> values, vectors;
  jacobi_eigen(cov, neurons, values, vectors);
  out.components.assign(static_cast<std::size_t>(out.k * neurons), 0.0);
  out.variance_fraction.assign(static_cast<std::size_t>(out.k), kNaN);
  for (std::int64_t c = 0; c < out.k; ++c) {
    std::int64_t big = 0;
    for (std::int64_t j = 0; j < neurons; ++j)
      if (std::fabs(vectors[static_cast<std::size_t>(j * neurons + c)]) >
          std::fabs(vectors[static_cast<std::size_t>(big * neurons + c)]))
        big = j;
    const double sign = vectors[static_cast<std::size_t>(big * neurons + c)] < 0 ? -1.0 : 1.0;
    for (std::int64_t j = 0; j < neurons; ++j)
      out.components[static_cast<std::size_t>(c * neurons + j)] =
          sign * vectors[static_cast<std::size_t>(j * neurons + c)];
    out.variance_fraction[static_cast<std::size_t>(c)] =
        trace > 0 ? std::max(0.0, values[static_cast<std::size_t>(c)]) / trace : kNaN;
  }
  out.projections.assign(static_cast<std::size_t>(trials * out.k), 0.0);
  for (std::int64_t t = 0; t < trials; ++t)
    for (std::int64_t c = 0; c < out.k; ++c) {
      double s = 0;
      for (std::int64_t j = 0; j < neurons; ++j)
        s += (x[static_cast<std::size_t>(t * neurons + j)] - mean[static_cast<std::size_t>(j)]) *
             out.components[static_cast<std::size_t>(c * neurons + j)];
      out.projections[static_cast<std::size_t>(t * out.k + c)] = s;
    }
  return out;
}

std::vector<WindowStat> smooth(const std::vector<std::int64_t>& days, const std::vector<double>& values,
                               std::int64_t window) {
  std::vector<std::int64_t> distinct = days;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::vector<WindowStat> out;
  for (std::int64_t d : distinct) {
    const std::int64_t lo = d - (window - 1) / 2, hi = d + window / 2;
    double sum = 0, ss = 0;
    std::int64_t n = 0;
    for (std::size_t i = 0; i < days.size(); ++i) {
      if (days[i] < lo || days[i] > hi || std::isnan(values[i])) continue;
      sum += values[i];
      ++n;
    }
    WindowStat w;
    w.day = d;
    w.n = n;
    w.mean = n > 0 ? sum / static_cast<double>(n) : kNaN;
    for (std::size_t i = 0; i < days.size(); ++i) {
      if (days[i] < lo || days[i] > hi || std::isnan(values[i])) continue;
      ss += (values[i] - w.mean) * (values[i] - w.mean);
    }
    w.se = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n)) : kNaN;
    out.push_back(w);
  }
  return out;
}

Trend trend(const std::vector<std::int64_t>& days, const std::vector<double>& values) {
  double sx = 0, sy = 0;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < days.size(); ++i) {
    if (std::isnan(values[i])) continue;
    sx += static_cast<double>(days[i]);
    sy += values[i];
    ++n;
  }
  Trend t{kNaN, kNaN};
  if (n < 2) return t;
  const double mx = sx / static_cast<double>(n), my = sy / static_cast<double>(n);
  double sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < days.size(); ++i) {
    if (std::isnan(values[i])) continue;
    const double dx = static_cast<double>(days[i]) - mx, dy = values[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  t.slope = sxx > 0 ? sxy / sxx : kNaN;
  t.r = sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : kNaN;
  return t;
}

}  // namespace groove::decode
