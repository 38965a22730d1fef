#include "tessel/search/graph_plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

namespace tessel::search {
namespace {

// A tensor's situation in a partial plan: the state it was made in and the states it exists in
// (that one and the copies made so far), as one word: bits 0-3 the state, 4-19 the set.
uint32_t pack(StateId made, uint32_t have) {
  return made | have << 4;
}
StateId madeOf(uint32_t w) {
  return static_cast<StateId>(w & 15u);
}
uint32_t haveOf(uint32_t w) {
  return w >> 4;
}

// What solvePlan needs beyond the problem: who writes each tensor, when it is read last, and
// which tensors are alive (still to be read, or a graph output) after each node.
struct Shape {
  std::vector<int> lastRead; // per tensor: the last node reading it; nodes.size() for outputs
  std::vector<std::vector<int32_t>> alive; // [i + 1]: after node i, ascending; [0]: at the start
};

Result<Shape> analyse(const PlanProblem& pr) {
  const auto n = static_cast<int>(pr.nodes.size());
  const auto tensors = static_cast<size_t>(std::max(pr.tensorCount, 0));
  if (pr.initialState.size() != tensors || pr.finalState.size() != tensors)
    return invalidArgument("plan: initialState and finalState need one entry per tensor");
  if (!pr.convert) return invalidArgument("plan: no conversion cost");
  std::vector<int> writer(tensors, -1);
  Shape s;
  s.lastRead.assign(tensors, -1);
  auto validState = [](int v) { return v >= 0 && v < kMaxStates; };
  for (size_t t = 0; t < tensors; ++t) {
    if (pr.initialState[t] >= kMaxStates || pr.finalState[t] >= kMaxStates)
      return invalidArgument("plan: tensor " + std::to_string(t) + " has a state past 15");
    if (pr.finalState[t] >= 0) s.lastRead[t] = n;
  }
  for (int i = 0; i < n; ++i) {
    const PlanNode& node = pr.nodes[static_cast<size_t>(i)];
    const std::string at = "plan: node " + std::to_string(i);
    if (node.candidates.empty()) return invalidArgument(at + " has no candidate");
    for (int32_t t : node.inputs) {
      if (t < 0 || static_cast<size_t>(t) >= tensors)
        return invalidArgument(at + " reads tensor " + std::to_string(t) + ", which is not one");
      if (writer[static_cast<size_t>(t)] < 0 && pr.initialState[static_cast<size_t>(t)] < 0)
        return invalidArgument(at + " reads tensor " + std::to_string(t) +
                               " before any node writes it");
      s.lastRead[static_cast<size_t>(t)] = std::max(s.lastRead[static_cast<size_t>(t)], i);
    }
    const int32_t out = node.output;
    if (out < 0 || static_cast<size_t>(out) >= tensors || writer[static_cast<size_t>(out)] >= 0 ||
        pr.initialState[static_cast<size_t>(out)] >= 0)
      return invalidArgument(at + " writes a tensor that is not its own to write");
    writer[static_cast<size_t>(out)] = i;
    for (const PlanCandidate& c : node.candidates) {
      if (c.inputs.size() != node.inputs.size())
        return invalidArgument(at + " has a candidate with the wrong number of input states");
      if (!validState(c.output) ||
          !std::all_of(c.inputs.begin(), c.inputs.end(), [&](StateId v) { return validState(v); }))
        return invalidArgument(at + " has a candidate with a state past 15");
    }
  }
  // Alive after node i: available by then and read later (or a graph output).
  s.alive.resize(static_cast<size_t>(n) + 1);
  for (int i = -1; i < n; ++i) {
    auto& list = s.alive[static_cast<size_t>(i + 1)];
    for (size_t t = 0; t < tensors; ++t) {
      const bool available = pr.initialState[t] >= 0 || (writer[t] >= 0 && writer[t] <= i);
      if (available && s.lastRead[t] > i) list.push_back(static_cast<int32_t>(t));
    }
  }
  return s;
}

// One partial plan after a node: its tensors' situations (over that node's alive list), its
// cost, and how it came to be.
struct Entry {
  std::vector<uint32_t> key;
  double seconds = 0;
  int64_t parent = -1; // index in the previous node's entries
  int candidate = -1;
};

uint64_t keyHash(const std::vector<uint32_t>& key) {
  uint64_t h = 1469598103934665603ull;
  for (uint32_t w : key)
    h = (h ^ w) * 1099511628211ull;
  return h ^ (h >> 29);
}

// The partial plans after one node, found by their keys (open addressing over indices into
// `entries`; grows at half full).
class PlanTable {
public:
  explicit PlanTable(std::vector<Entry>& entries) : entries_(entries), slots_(1024, -1) {}
  // Adds `made`, or keeps the cheaper of it and the plan with the same key.
  void offer(Entry&& made) {
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    size_t at = keyHash(made.key) & (slots_.size() - 1);
    while (slots_[at] >= 0) {
      Entry& there = entries_[static_cast<size_t>(slots_[at])];
      if (there.key == made.key) {
        if (made.seconds < there.seconds) there = std::move(made);
        return;
      }
      at = (at + 1) & (slots_.size() - 1);
    }
    slots_[at] = static_cast<int64_t>(entries_.size());
    entries_.push_back(std::move(made));
  }

private:
  void grow() {
    slots_.assign(slots_.size() * 2, -1);
    for (size_t e = 0; e < entries_.size(); ++e) {
      size_t at = keyHash(entries_[e].key) & (slots_.size() - 1);
      while (slots_[at] >= 0)
        at = (at + 1) & (slots_.size() - 1);
      slots_[at] = static_cast<int64_t>(e);
    }
  }
  std::vector<Entry>& entries_;
  std::vector<int64_t> slots_;
};

// Where tensor t sits in an alive list (ascending), or -1.
int position(const std::vector<int32_t>& alive, int32_t t) {
  auto it = std::lower_bound(alive.begin(), alive.end(), t);
  return it != alive.end() && *it == t ? static_cast<int>(it - alive.begin()) : -1;
}

} // namespace

double planCost(const PlanProblem& pr, const std::vector<int>& choice) {
  std::vector<uint32_t> situation(static_cast<size_t>(std::max(pr.tensorCount, 0)), 0);
  for (size_t t = 0; t < situation.size(); ++t)
    if (pr.initialState[t] >= 0) {
      const auto s = static_cast<StateId>(pr.initialState[t]);
      situation[t] = pack(s, 1u << s);
    }
  double seconds = 0;
  auto need = [&](int32_t t, StateId want) {
    uint32_t& w = situation[static_cast<size_t>(t)];
    if (haveOf(w) >> want & 1u) return;
    seconds += pr.convert(t, madeOf(w), want);
    w = pack(madeOf(w), haveOf(w) | 1u << want);
  };
  for (size_t i = 0; i < pr.nodes.size(); ++i) {
    const PlanNode& node = pr.nodes[i];
    const PlanCandidate& c = node.candidates[static_cast<size_t>(choice[i])];
    seconds += c.seconds;
    for (size_t j = 0; j < node.inputs.size(); ++j)
      need(node.inputs[j], c.inputs[j]);
    situation[static_cast<size_t>(node.output)] = pack(c.output, 1u << c.output);
  }
  for (size_t t = 0; t < situation.size(); ++t)
    if (pr.finalState[t] >= 0)
      need(static_cast<int32_t>(t), static_cast<StateId>(pr.finalState[t]));
  return seconds;
}

Result<PlanResult> solvePlan(const PlanProblem& pr, size_t maxPartialPlans) {
  TESSEL_ASSIGN_OR_RETURN(Shape shape, analyse(pr));
  PlanResult result;
  const size_t n = pr.nodes.size();
  std::vector<std::vector<Entry>> steps(n + 1);
  {
    Entry start;
    for (int32_t t : shape.alive[0]) {
      const auto s = static_cast<StateId>(pr.initialState[static_cast<size_t>(t)]);
      start.key.push_back(pack(s, 1u << s));
    }
    steps[0].push_back(std::move(start));
  }
  maxPartialPlans = std::max<size_t>(maxPartialPlans, 1);
  // Branch and bound, exact: the cost of a complete plan (the best of a few simple ones) bounds
  // the optimum from above; a partial plan whose cost plus the least the remaining nodes can
  // take (each its fastest candidate, conversions free) is above that bound cannot become the
  // optimum, so it is dropped.
  std::vector<double> rest(n + 1, 0.0); // rest[i]: the least nodes i.. can take
  for (size_t i = n; i > 0; --i) {
    double fastest = std::numeric_limits<double>::infinity();
    for (const PlanCandidate& c : pr.nodes[i - 1].candidates)
      fastest = std::min(fastest, c.seconds);
    rest[i - 1] = rest[i] + fastest;
  }
  double bound = std::numeric_limits<double>::infinity();
  std::vector<int> boundChoice; // the plan that sets the bound
  {
    // Each node's fastest candidate; and, per state, each node's fastest candidate writing in
    // that state where it has one.
    for (int s = -1; s < kMaxStates; ++s) {
      std::vector<int> choice(n, 0);
      bool any = s < 0;
      for (size_t i = 0; i < n; ++i) {
        const auto& cs = pr.nodes[i].candidates;
        int best = -1;
        for (size_t ci = 0; ci < cs.size(); ++ci)
          if ((s < 0 || cs[ci].output == s) &&
              (best < 0 || cs[ci].seconds < cs[static_cast<size_t>(best)].seconds))
            best = static_cast<int>(ci);
        if (best >= 0) any = true;
        if (best < 0)
          for (size_t ci = 0; ci < cs.size(); ++ci)
            if (best < 0 || cs[ci].seconds < cs[static_cast<size_t>(best)].seconds)
              best = static_cast<int>(ci);
        choice[i] = best;
      }
      if (!any) continue;
      const double seconds = planCost(pr, choice);
      if (seconds < bound) {
        bound = seconds;
        boundChoice = std::move(choice);
      }
    }
  }
  const double slack = 1e-9 * std::abs(bound); // rounding: never drop a plan the bound ties
  // A simple plan as cheap as the least any plan can take (every node its fastest candidate,
  // with no conversion: one space wins every node, say) is optimal as it is.
  if (!boundChoice.empty() && bound <= rest[0] + slack) {
    result.seconds = bound;
    result.choice = std::move(boundChoice);
    return result;
  }
  for (size_t i = 0; i < n; ++i) {
    const PlanNode& node = pr.nodes[i];
    const std::vector<int32_t>& before = shape.alive[i];
    const std::vector<int32_t>& after = shape.alive[i + 1];
    // Where each alive-after tensor comes from: the list before, or this node's output.
    std::vector<int> from(after.size());
    for (size_t a = 0; a < after.size(); ++a)
      from[a] = after[a] == node.output ? -1 : position(before, after[a]);
    std::vector<int> inputAt(node.inputs.size());
    for (size_t j = 0; j < node.inputs.size(); ++j)
      inputAt[j] = position(before, node.inputs[j]);
    // Candidates with the same states as a faster one (or an equal one listed first) never do
    // better than it: only the others are tried.
    std::vector<size_t> tried;
    for (size_t ci = 0; ci < node.candidates.size(); ++ci) {
      const PlanCandidate& c = node.candidates[ci];
      bool dominated = false;
      for (size_t other = 0; other < node.candidates.size() && !dominated; ++other) {
        const PlanCandidate& o = node.candidates[other];
        dominated = other != ci && o.inputs == c.inputs && o.output == c.output &&
                    (o.seconds < c.seconds || (o.seconds == c.seconds && other < ci));
      }
      if (!dominated) tried.push_back(ci);
    }
    std::vector<Entry>& next = steps[i + 1];
    PlanTable table(next);
    const std::vector<Entry>& prev = steps[i];
    for (size_t e = 0; e < prev.size(); ++e) {
      for (size_t ci : tried) {
        const PlanCandidate& c = node.candidates[ci];
        std::vector<uint32_t> situation = prev[e].key;
        double seconds = prev[e].seconds + c.seconds;
        for (size_t j = 0; j < node.inputs.size(); ++j) {
          uint32_t& w = situation[static_cast<size_t>(inputAt[j])];
          const StateId want = c.inputs[j];
          if (haveOf(w) >> want & 1u) continue;
          seconds += pr.convert(node.inputs[j], madeOf(w), want);
          w = pack(madeOf(w), haveOf(w) | 1u << want);
        }
        if (seconds + rest[i + 1] > bound + slack) continue;
        Entry made;
        made.key.resize(after.size());
        for (size_t a = 0; a < after.size(); ++a)
          made.key[a] = from[a] < 0 ? pack(c.output, 1u << c.output)
                                    : situation[static_cast<size_t>(from[a])];
        made.seconds = seconds;
        made.parent = static_cast<int64_t>(e);
        made.candidate = static_cast<int>(ci);
        ++result.partialPlans;
        table.offer(std::move(made));
      }
    }
    if (next.size() > maxPartialPlans) {
      std::stable_sort(next.begin(), next.end(),
                       [](const Entry& a, const Entry& b) { return a.seconds < b.seconds; });
      next.resize(maxPartialPlans);
      result.exact = false;
    }
  }
  if (steps[n].empty()) return internalError("plan: every partial plan was dropped");
  // The graph outputs' final states, then the cheapest.
  const std::vector<int32_t>& last = shape.alive[n];
  size_t best = 0;
  double bestSeconds = 0;
  for (size_t e = 0; e < steps[n].size(); ++e) {
    double seconds = steps[n][e].seconds;
    for (size_t a = 0; a < last.size(); ++a) {
      const int f = pr.finalState[static_cast<size_t>(last[a])];
      const uint32_t w = steps[n][e].key[a];
      if (f >= 0 && !(haveOf(w) >> f & 1u))
        seconds += pr.convert(last[a], madeOf(w), static_cast<StateId>(f));
    }
    if (e == 0 || seconds < bestSeconds) {
      best = e;
      bestSeconds = seconds;
    }
  }
  result.seconds = bestSeconds;
  result.choice.assign(n, 0);
  int64_t at = static_cast<int64_t>(best);
  for (size_t i = n; i > 0; --i) {
    const Entry& entry = steps[i][static_cast<size_t>(at)];
    result.choice[i - 1] = entry.candidate;
    at = entry.parent;
  }
  return result;
}

PlanResult bruteForcePlan(const PlanProblem& pr) {
  PlanResult best;
  std::vector<int> choice(pr.nodes.size(), 0);
  bool first = true;
  for (;;) {
    const double seconds = planCost(pr, choice);
    ++best.partialPlans;
    if (first || seconds < best.seconds) {
      best.seconds = seconds;
      best.choice = choice;
      first = false;
    }
    // The next combination, the last node's candidate turning fastest.
    size_t i = choice.size();
    while (i > 0) {
      --i;
      if (static_cast<size_t>(++choice[i]) < pr.nodes[i].candidates.size()) break;
      choice[i] = 0;
      if (i == 0) return best;
    }
    if (choice.empty()) return best;
  }
}

} // namespace tessel::search
