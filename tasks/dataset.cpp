// Dataset: groups, splits, device copies and validation.
#include "tasks/dataset.h"

#include <cmath>

#include "kernels/ops.h"

namespace groove::tasks {

bool Dataset::has_group(const std::string& name) const {
  for (const Group& g : groups) {
    if (g.name == name) return true;
  }
  return false;
}

const Group& Dataset::group(const std::string& name) const {
  std::string present;
  for (const Group& g : groups) {
    if (g.name == name) return g;
    present += (present.empty() ? "" : ", ") + g.name;
  }
  GROOVE_THROW(task, ": no group '", name, "' (groups: ", present, ")");
}

namespace {
Tensor gather(const Tensor& t, const Tensor& index, Context& ctx) {
  if (!t.defined()) return Tensor();
  const bool vector = t.ndim() == 1;
  const Tensor rows = vector ? t.reshape({t.dim(0), 1}) : t;
  Tensor out = Tensor::empty({index.dim(0), rows.dim(1)}, t.dtype(), ctx);
  ops::gather_rows(out, rows.device() == ctx.device() ? rows : rows.to(ctx), index, ctx);
  return vector ? out.reshape({index.dim(0)}) : out;
}

}  // namespace

Dataset::Split Dataset::split(const std::string& name, Context& ctx) const {
  const Group& g = group(name);
  const Tensor index =
      Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(g.indices.size())}, g.indices).to(ctx);
  return {gather(x, index, ctx), gather(y, index, ctx), gather(targets, index, ctx), gather(weights, index, ctx)};
}

metrics::HeldOut Dataset::held_out(Context& ctx) const {
  GROOVE_CHECK(y.defined(), task, ": the held-out set needs class labels");
  std::vector<std::int32_t> rows, group_of;
  metrics::HeldOut h;
  for (const Group& g : groups) {
    if (g.name == "train") continue;
    for (std::int32_t i : g.indices) {
      rows.push_back(i);
      group_of.push_back(static_cast<std::int32_t>(h.group_names.size()));
    }
    h.group_names.push_back(g.name);
  }
  if (rows.empty()) return h;
  const std::int64_t q = static_cast<std::int64_t>(rows.size());
  const Tensor index = Tensor::from_vector<std::int32_t>({q}, rows).to(ctx);
  h.x = gather(x, index, ctx);
  h.labels = gather(y, index, ctx);
  h.groups = Tensor::from_vector<std::int32_t>({q}, group_of).to(ctx);
  return h;
}

Dataset Dataset::to(Context& ctx) const {
  Dataset d = *this;
  for (Tensor* t : {&d.x, &d.y, &d.targets, &d.weights}) {
    if (t->defined()) *t = t->to(ctx);
  }
  return d;
}

void Dataset::validate(const std::string& what) const {
  GROOVE_CHECK(x.defined() && x.ndim() == 2, what, ": features must be a [n, D] matrix, got ", x.str());
  GROOVE_CHECK(is_floating(x.dtype()), what, ": features must be f32 or f64, got ", x.str());
  const std::int64_t n = x.dim(0);
  GROOVE_CHECK(n > 0 && x.dim(1) > 0, what, ": the dataset is empty (", x.str(), ")");
  GROOVE_CHECK(y.defined() || targets.defined(), what, ": neither labels nor regression targets");
  const Tensor hx = x.to_host();
  for (std::int64_t i = 0; i < hx.numel(); ++i) {
    const double v = hx.value(i);
    GROOVE_CHECK(std::isfinite(v), what, ": feature value at row ", i / x.dim(1), ", column ", i % x.dim(1), " is ", v,
                 " (NaN and Inf are not allowed)");
  }
  GROOVE_CHECK(!groups.empty() && groups[0].name == "train", what, ": the first group must be 'train'");
  std::vector<char> in_train(static_cast<std::size_t>(n), 0);
  for (const Group& g : groups) {
    GROOVE_CHECK(!g.name.empty(), what, ": a group has an empty name");
    for (std::int32_t i : g.indices) {
      GROOVE_CHECK(i >= 0 && i < n, what, ": group '", g.name, "' refers to row ", i, " of ", n);
      if (&g == &groups[0]) in_train[static_cast<std::size_t>(i)] = 1;
    }
  }
  GROOVE_CHECK(!groups[0].indices.empty(), what, ": the 'train' group is empty");
  if (y.defined()) {
    GROOVE_CHECK(y.dtype() == DType::i32 && y.ndim() == 1 && y.dim(0) == n, what, ": labels must be i32 [", n,
                 "] (one per row of the features), got ", y.str());
    GROOVE_CHECK(num_classes >= 1, what, ": num_classes must be >= 1 for labelled data, got ", num_classes);
    const Tensor hy = y.to_host();
    std::vector<std::int64_t> train_count(static_cast<std::size_t>(num_classes), 0);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t label = hy.flat<std::int32_t>(i);
      GROOVE_CHECK(label >= 0 && label < num_classes, what, ": label ", label, " at row ", i, " is outside [0, ",
                   num_classes, ")");
      if (in_train[static_cast<std::size_t>(i)]) ++train_count[static_cast<std::size_t>(label)];
    }
    for (std::int64_t c = 0; c < num_classes; ++c) {
      GROOVE_CHECK(train_count[static_cast<std::size_t>(c)] > 0, what, ": class ", c,
                   " has no example in the 'train' group");
    }
  }
  if (targets.defined()) {
    GROOVE_CHECK(targets.ndim() == 2 && targets.dim(0) == n && targets.dtype() == x.dtype(), what,
                 ": regression targets must be [", n, ", C] of the features' dtype, got ", targets.str());
    const Tensor ht = targets.to_host();
    for (std::int64_t i = 0; i < ht.numel(); ++i) {
      GROOVE_CHECK(std::isfinite(ht.value(i)), what, ": target at row ", i / targets.dim(1), " is not finite");
    }
  }
  if (weights.defined()) {
    GROOVE_CHECK(weights.ndim() == 1 && weights.dim(0) == n && weights.dtype() == x.dtype(), what,
                 ": example weights must be [", n, "] of the features' dtype, got ", weights.str());
    const Tensor hw = weights.to_host();
    for (std::int64_t i = 0; i < n; ++i) {
      const double w = hw.value(i);
      GROOVE_CHECK(std::isfinite(w) && w >= 0, what, ": example weight at row ", i, " is ", w,
                   " (weights must be finite and >= 0)");
    }
  }
}

}  // namespace groove::tasks
