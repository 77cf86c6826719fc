// Vectorised evaluation of checked expressions: one backend call per operator node.

#include "joconde/engines/sql/evaluate.hpp"

#include "joconde/engines/kernels.hpp"
#include "joconde/engines/secret_ops.hpp"

namespace joconde::engines::sql {

namespace {

secret operand(backend& b, const expr& e, std::size_t i, const frame& f) {
  auto v = evaluate(b, *e.args[i], f);
  if (!e.factors.empty() && e.factors[i] != 1)
    v = b.mul_public(v, e.factors[i]);
  return v;
}

bool is_literal(const expr& e) {
  return e.kind == expr_kind::literal;
}

secret comparison(backend& b, const expr& e, const frame& f) {
  auto x = operand(b, e, 0, f);
  auto y = operand(b, e, 1, f);
  switch (e.op) {
    case binary_op::eq: return b.eq(x, y);
    case binary_op::ne: return logical_not(b, b.eq(x, y));
    case binary_op::lt: return b.lt(x, y);
    case binary_op::gt: return b.lt(y, x);
    case binary_op::le: return logical_not(b, b.lt(y, x));
    default: return logical_not(b, b.lt(x, y));
  }
}

/// A comparison's 0/1 result, made 0 where an operand is missing (unknown is not true).
secret known(backend& b, const expr& e, const frame& f, secret result) {
  auto p = presence(b, e, f);
  return p ? b.mul(result, *p) : result;
}

secret binary(backend& b, const expr& e, const frame& f) {
  switch (e.op) {
    case binary_op::add: return b.add(operand(b, e, 0, f), operand(b, e, 1, f));
    case binary_op::sub: return b.sub(operand(b, e, 0, f), operand(b, e, 1, f));
    case binary_op::mul:
      if (is_literal(*e.args[1]))
        return b.mul_public(evaluate(b, *e.args[0], f), static_cast<word>(e.args[1]->number));
      if (is_literal(*e.args[0]))
        return b.mul_public(evaluate(b, *e.args[1], f), static_cast<word>(e.args[0]->number));
      return b.mul(evaluate(b, *e.args[0], f), evaluate(b, *e.args[1], f));
    case binary_op::div: {
      auto d = operand(b, e, 1, f);
      if (e.empty_as_one)  // 0 only for a group without rows: one unit of the aligned scale there
        d = b.add(d, b.mul_public(b.eq(d, b.constant(0, d.size())), e.factors[1]));
      if (e.exact_div)  // in the output's units, rounded half away from zero exactly
        return kernels::round_div(b, b.mul_public(operand(b, e, 0, f), e.wide_mul), d);
      return b.div(operand(b, e, 0, f), d, kernels::stat_frac);
    }
    case binary_op::logic_and: return b.mul(evaluate(b, *e.args[0], f), evaluate(b, *e.args[1], f));
    case binary_op::logic_or: {
      auto x = evaluate(b, *e.args[0], f);
      auto y = evaluate(b, *e.args[1], f);
      return b.sub(b.add(x, y), b.mul(x, y));
    }
    default: return known(b, e, f, comparison(b, e, f));
  }
}

secret between(backend& b, const expr& e, const frame& f) {
  auto x = operand(b, e, 0, f);
  auto lo = operand(b, e, 1, f);
  auto hi = operand(b, e, 2, f);
  // One comparison batch: x < lo and hi < x, each 1 where the value is outside.
  auto outside = b.lt(concat({&x, &hi}), concat({&lo, &x}));
  auto below = slice(outside, 0, f.n);
  auto above = slice(outside, f.n, f.n);
  auto inside = b.mul(logical_not(b, below), logical_not(b, above));
  return known(b, e, f, e.negated ? logical_not(b, inside) : inside);
}

secret in_list(backend& b, const expr& e, const frame& f) {
  auto x = operand(b, e, 0, f);
  secret xs;
  std::vector<word> consts;
  for (auto code : e.codes) {
    append(xs, x);
    consts.insert(consts.end(), f.n, code);
  }
  auto hits = b.eq(xs, b.constant(consts));
  auto any = b.constant(0, f.n);
  for (std::size_t k = 0; k < e.codes.size(); ++k)
    any = b.add(any, slice(hits, k * f.n, f.n));
  return known(b, e, f, e.negated ? logical_not(b, any) : any);
}

secret case_when(backend& b, const expr& e, const frame& f) {
  std::size_t pairs = e.args.size() / 2;
  auto acc = e.has_else ? operand(b, e, e.args.size() - 1, f) : b.constant(0, f.n);
  for (std::size_t i = pairs; i-- > 0;) {
    auto cond = evaluate(b, *e.args[2 * i], f);
    acc = b.mux(cond, operand(b, e, 2 * i + 1, f), acc);
  }
  return acc;
}

} // namespace

secret logical_not(backend& b, const secret& x) {
  return b.add_public(b.mul_public(x, static_cast<word>(-1)), 1);
}

secret evaluate(backend& b, const expr& e, const frame& f) {
  if (e.group_key && f.group_columns != nullptr)  // a GROUP BY expression's value: the group's
    return f.group_columns->at(e.column);
  switch (e.kind) {
    case expr_kind::literal: return b.constant(static_cast<word>(e.number), f.n);
    case expr_kind::column:
      if (f.group_columns != nullptr)
        return f.group_columns->at(e.column);
      return e.nullable ? filled_column(b, e, f) : (*f.columns)[e.column];
    case expr_kind::negate: return b.mul_public(evaluate(b, *e.args[0], f), static_cast<word>(-1));
    case expr_kind::logic_not: {
      // True where the operand is false: p - T (1 - T when it is never unknown).
      auto p = presence(b, *e.args[0], f);
      auto t = evaluate(b, *e.args[0], f);
      return p ? b.sub(*p, t) : logical_not(b, t);
    }
    case expr_kind::is_null: {
      auto p = presence(b, *e.args[0], f);
      if (!p)
        return b.constant(e.negated ? 1 : 0, f.n);
      return e.negated ? *p : logical_not(b, *p);
    }
    case expr_kind::binary: return binary(b, e, f);
    case expr_kind::between: return between(b, e, f);
    case expr_kind::in_list: return in_list(b, e, f);
    case expr_kind::case_when: return case_when(b, e, f);
    case expr_kind::round: return convert(b, evaluate(b, *e.args[0], f), e.rounding);
    case expr_kind::width_bucket: return width_bucket(b, e, f);
    case expr_kind::aggregate: return f.aggregates->at(&e);
  }
  return b.constant(0, f.n);
}

namespace {

/// MIN or MAX, which run on masks only (the compiler keeps groupings with them on masks).
secret extremum(backend& b, const expr& e, const kernels::grouping& by, const secret& x) {
  if (by.masks() == nullptr)
    throw engine_failure(fail(errc::invalid_state, "MIN and MAX need one-hot group masks, not sorted groups"));
  auto lo = static_cast<std::int64_t>(e.args[0]->range.lo);
  auto hi = static_cast<std::int64_t>(e.args[0]->range.hi);
  return e.agg == kernels::aggregate::min ? kernels::min(b, *by.masks(), x, by.groups(), lo, hi)
                                           : kernels::max(b, *by.masks(), x, by.groups(), lo, hi);
}

/// Aggregate `e` over the grouping `by`, its arguments evaluated over `rows`.
secret aggregate_of(backend& b, const expr& e, const kernels::grouping& by, const frame& rows) {
  std::vector<secret> args;
  if (e.agg != kernels::aggregate::count || e.distinct)
    for (const auto& a : e.args)
      args.push_back(evaluate(b, *a, rows));
  if (e.distinct)
    return kernels::count_distinct(b, by, args[0], static_cast<std::int64_t>(e.args[0]->range.lo),
                                   static_cast<std::int64_t>(e.args[0]->range.hi));
  switch (e.agg) {
    case kernels::aggregate::count: return kernels::count(b, by);
    case kernels::aggregate::sum: return kernels::sum(b, by, args[0]);
    case kernels::aggregate::avg: return kernels::avg(b, by, args[0]);
    case kernels::aggregate::min:
    case kernels::aggregate::max: return extremum(b, e, by, args[0]);
    case kernels::aggregate::var_samp: return kernels::var_samp(b, by, args[0]);
    case kernels::aggregate::stddev_samp: return kernels::stddev_samp(b, by, args[0]);
    case kernels::aggregate::corr: return kernels::corr(b, by, args[0], args[1]);
    case kernels::aggregate::regr_slope: return kernels::regr_slope(b, by, args[0], args[1]);
    case kernels::aggregate::regr_intercept: return kernels::regr_intercept(b, by, args[0], args[1]);
    case kernels::aggregate::var_pop: return kernels::var_pop(b, by, args[0]);
    case kernels::aggregate::stddev_pop: return kernels::stddev_pop(b, by, args[0]);
    case kernels::aggregate::covar_samp: return kernels::covar_samp(b, by, args[0], args[1]);
    case kernels::aggregate::covar_pop: return kernels::covar_pop(b, by, args[0], args[1]);
    case kernels::aggregate::regr_r2: return kernels::regr_r2(b, by, args[0], args[1]);
    case kernels::aggregate::median:
      if (by.masks() == nullptr)
        throw engine_failure(fail(errc::invalid_state, "MEDIAN needs one-hot group masks, not sorted groups"));
      return kernels::median_twice(b, *by.masks(), by.groups(), args[0],
                                   static_cast<std::int64_t>(e.args[0]->range.lo),
                                   static_cast<std::int64_t>(e.args[0]->range.hi));
    case kernels::aggregate::percentile_cont:
    case kernels::aggregate::percentile_disc: {
      if (by.masks() == nullptr)
        throw engine_failure(fail(errc::invalid_state, e.name + " needs one-hot group masks, not sorted groups"));
      const auto lo = static_cast<std::int64_t>(e.args[0]->range.lo);
      const auto hi = static_cast<std::int64_t>(e.args[0]->range.hi);
      const auto num = static_cast<word>(e.fraction);
      word scale = 1;
      for (int d = 0; d < e.fraction_dec; ++d)
        scale *= 10;
      if (e.agg == kernels::aggregate::percentile_disc)
        return kernels::percentile_disc(b, *by.masks(), by.groups(), args[0], lo, hi, num, scale);
      return kernels::percentile_cont_scaled(b, *by.masks(), by.groups(), args[0], lo, hi, num, scale);
    }
  }
  return b.constant(0, by.groups());
}

} // namespace

namespace {

/// An aggregate beyond the ring of its first argument x (and second y), in the output's units.
kernels::wide_secret wide_aggregate(backend& b, const expr& e, const kernels::grouping& by, const secret& x,
                                    const secret& y) {
  const auto bits = e.wide_bits;
  switch (e.agg) {
    case kernels::aggregate::corr: return kernels::wide_corr(b, by, x, y, bits, e.wide_bits2, e.wide_mul);
    // REGR_*(y, x): x here is the first argument, y, and y the second, x.
    case kernels::aggregate::regr_slope: return kernels::wide_regr_slope(b, by, x, y, bits, e.wide_bits2, e.wide_mul);
    case kernels::aggregate::regr_intercept:
      return kernels::wide_regr_intercept(b, by, x, y, bits, e.wide_bits2, e.wide_mul);
    case kernels::aggregate::sum: return kernels::wide_sum(b, by, x, bits, e.wide_mul, e.wide_div);
    case kernels::aggregate::avg: return kernels::wide_avg(b, by, x, bits, e.wide_mul, e.wide_div);
    case kernels::aggregate::var_samp: return kernels::wide_var_samp(b, by, x, bits, e.wide_mul, e.wide_div);
    case kernels::aggregate::stddev_samp:
      return kernels::wide_stddev_samp(b, by, x, bits, e.wide_mul, e.wide_div);
    case kernels::aggregate::var_pop: return kernels::wide_var_pop(b, by, x, bits, e.wide_mul, e.wide_div);
    case kernels::aggregate::stddev_pop: return kernels::wide_stddev_pop(b, by, x, bits, e.wide_mul, e.wide_div);
    case kernels::aggregate::covar_samp:
    case kernels::aggregate::covar_pop:
      return kernels::wide_covar(b, by, x, y, bits, e.wide_bits2, e.wide_mul, e.wide_div,
                                 e.agg == kernels::aggregate::covar_pop);
    case kernels::aggregate::regr_r2: return kernels::wide_regr_r2(b, by, x, y, bits, e.wide_bits2, e.wide_mul);
    default: break;
  }
  throw engine_failure(fail(errc::invalid_state, e.name + " has no form beyond the ring"));
}

} // namespace

namespace {

/// Aggregate `e` over the rows `rows` (its `columns`, n of them) grouped by `by` (none: every row,
/// publicly); `ones` the masks of every row once an aggregate has made them.
secret one_aggregate(backend& b, const expr* e, const frame& rows, const std::vector<secret>& columns, std::size_t n,
                     const std::optional<kernels::grouping>& by, secret& ones) {
  // A column read in place: as stored, unless missing values were replaced (presence).
  auto column = [&](const expr& arg) -> const secret& {
    return arg.nullable ? filled_column(b, arg, rows) : columns[arg.column];
  };
  if (e->wide || e->exact_stat) {
    // The three words in one secret, high first: the select item writes them as three columns.
    // An exact_stat's value fits the ring: mid 2^32 + lo is it (hi 2^64 vanishes).
    if (!by && ones.size() != n)
      ones = b.constant(1, n);
    const auto& group = by ? *by : kernels::grouping{ones, 1};
    // A plain column is read in place, without a copy.
    std::vector<secret> computed(e->args.size());
    std::vector<const secret*> args;
    for (std::size_t i = 0; i < e->args.size(); ++i) {
      const auto& arg = *e->args[i];
      if (arg.kind != expr_kind::column)
        computed[i] = evaluate(b, arg, rows);
      args.push_back(arg.kind == expr_kind::column ? &column(arg) : &computed[i]);
    }
    auto v = wide_aggregate(b, *e, group, *args[0], *args.back());
    if (e->exact_stat)
      return b.add(v.lo, b.mul_public(v.mid, word{1} << 32));
    return concat({&v.hi, &v.mid, &v.lo});
  }
  if (e->exact_avg) {
    if (!by && ones.size() != n)
      ones = b.constant(1, n);
    const auto& arg = *e->args[0];
    secret computed;
    if (arg.kind != expr_kind::column)
      computed = evaluate(b, arg, rows);
    const auto& x = arg.kind == expr_kind::column ? column(arg) : computed;
    return kernels::avg_rounded(b, by ? *by : kernels::grouping{ones, 1}, x, e->wide_mul, e->wide_div);
  }
  if (!by && e->agg == kernels::aggregate::count && !e->distinct)
    return b.constant(static_cast<word>(n), 1);
  if (!by && e->agg == kernels::aggregate::sum) {
    // Local: a plain column is summed in place, without a copy.
    const auto& arg = *e->args[0];
    return arg.kind == expr_kind::column ? b.sum(column(arg)) : b.sum(evaluate(b, arg, rows));
  }
  if (!by && ones.size() != n)
    ones = b.constant(1, n);
  return aggregate_of(b, *e, by ? *by : kernels::grouping{ones, 1}, rows);
}

} // namespace

std::map<const expr*, secret> run_aggregates(backend& b, const std::vector<const expr*>& aggs,
                                             const std::vector<secret>& columns, std::size_t n,
                                             const std::optional<kernels::grouping>& by) {
  std::map<const expr*, secret> out;
  frame rows;
  rows.n = n;
  rows.columns = &columns;
  secret ones;  // the masks of "every row", made only if an aggregate needs them
  for (const auto* e : aggs) {
    // SQL: an aggregate skips the rows where an argument is missing. Those rows leave its grouping:
    // the masks times the presence flags (one multiplication per group and row), or the sorted
    // rows' filter times them.
    std::optional<secret> present;
    for (const auto& a : e->args)
      if (auto p = presence(b, *a, rows))
        present = present ? b.mul(*present, *p) : std::move(*p);
    if (!present) {
      out.emplace(e, one_aggregate(b, e, rows, columns, n, by, ones));
      continue;
    }
    secret masks;
    kernels::sorted_groups sorted;
    std::optional<kernels::grouping> restricted;
    if (by && by->sorted() != nullptr) {
      const auto& s = *by->sorted();
      sorted.groups = s.groups;
      sorted.filter = b.mul(s.filter, *present);
      sorted.anchor = s.anchor;
      restricted.emplace(sorted);
    } else if (by) {
      std::vector<const secret*> tiled(by->groups(), &*present);
      masks = b.mul(*by->masks(), concat(tiled));
      restricted.emplace(masks, by->groups());
    } else {
      masks = std::move(*present);
      restricted.emplace(masks, 1);
    }
    out.emplace(e, one_aggregate(b, e, rows, columns, n, restricted, ones));
  }
  return out;
}

secret floor_by_passes(backend& b, const secret& v, const conversion& c) {
  // Each pass takes an approximate quotient of the remainder; after the last one the quotient q is
  // floor(v / d) give or take two, and the remainder r = v - q * d says by how much:
  // floor(v / d) = q + 2 - [r < -2d] - [r < -d] - [r < 0] - [r < d] - [r < 2d].
  const auto d = c.divisor;
  auto q = b.constant(0, v.size());
  auto r = v;
  for (const auto& pass : c.passes) {
    auto step = b.trunc(b.mul_public(r, pass.mul), pass.shift);
    q = b.add(q, step);
    r = b.sub(r, b.mul_public(step, d));
  }
  const word thresholds[] = {word{0} - 2 * d, word{0} - d, 0, d, 2 * d};
  secret rs;
  std::vector<word> cs;
  for (auto t : thresholds) {
    append(rs, r);
    cs.insert(cs.end(), r.size(), t);
  }
  auto below = b.lt(rs, b.constant(cs));
  q = b.add_public(q, 2);
  for (std::size_t k = 0; k < 5; ++k)
    q = b.sub(q, slice(below, k * r.size(), r.size()));
  return q;
}

secret convert(backend& b, const secret& x, const conversion& c) {
  auto v = x;
  if (c.pre_mul != 1)
    v = b.mul_public(v, c.pre_mul);
  if (c.divisor == 0) {
    if (c.mul != 1)
      v = b.mul_public(v, c.mul);
    return c.shift != 0 ? kernels::round_shift(b, v, c.shift) : v;
  }
  // Half away from zero: the magnitude, floored to whole units (exactly), plus half the divisor,
  // divided rounding down, and the sign put back.
  auto [sign, magnitude] = kernels::sign_and_magnitude(b, v);
  v = std::move(magnitude);
  if (c.pre_shift != 0)
    v = kernels::floor_shift(b, v, c.pre_shift);
  v = b.add_public(v, c.divisor / 2);
  return b.mul(floor_by_passes(b, v, c), sign);
}

} // namespace joconde::engines::sql
