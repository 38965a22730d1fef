#include "tessel/graph/dynamic_session.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace tessel::graph {

// A plan: the graph specialized for one signature, its program and a session on it; or, when a
// rule needs a value computed from the run's data, two stages: the nodes that value depends on,
// then the rest, each a DynamicSession of its own (so either may be staged again).
struct DynamicSession::Plan {
  std::string signature;
  std::shared_ptr<Program> program;
  std::unique_ptr<Session> session;
  std::vector<int> sessionInput;    // per flattened input: its session input, -1 when folded in
  std::vector<TensorDesc> outputs;  // flattened: list outputs' elements in their place
  std::vector<int32_t> outputItems; // per graph output, as Graph::outputItems
  std::vector<size_t> outputStart;  // per graph output: its first flattened output
  std::unique_ptr<DynamicSession> prefix, suffix;
  std::vector<int> prefixFrom, suffixFrom; // as Stages
};

DynamicSession::~DynamicSession() = default;

Result<std::unique_ptr<DynamicSession>> DynamicSession::create(std::shared_ptr<const Graph> source,
                                                               const DynamicOptions& options) {
  if (!source) return invalidArgument("no graph");
  std::unique_ptr<DynamicSession> s(new DynamicSession());
  s->source_ = std::move(source);
  s->options_ = options;
  s->options_.cachedPlans = std::max(1, options.cachedPlans);
  s->registry_ = std::make_shared<BackendRegistry>();
  registerBuiltinBackends(*s->registry_);
  return s;
}

std::string DynamicSession::signature(const std::vector<InputRef>& inputs) const {
  std::string sig;
  for (const InputRef& in : inputs) {
    if (in.list) {
      sig += in.present ? "[" + std::to_string(in.items.size()) : "[-";
      for (const InputRef& item : in.items)
        sig += shapeToString(item.desc.shape);
      sig += "]";
      continue;
    }
    sig += std::to_string(static_cast<int>(in.desc.dtype)) + shapeToString(in.desc.shape) + ";";
  }
  for (size_t i : valueInputs_) {
    const auto* p = static_cast<const char*>(inputs[i].data);
    sig += "v" + std::to_string(i) + ":";
    sig.append(p, inputs[i].desc.byteSize());
  }
  return sig;
}

Result<DynamicSession::Plan*> DynamicSession::planFor(const std::vector<InputRef>& inputs) {
  // Specialize with the values found to matter so far; a rule that asks for another graph
  // input's value adds it and tries again (at most once per input).
  Graph specialized; // its values, inputs and outputs: the nodes went into `program`
  std::shared_ptr<Program> program;
  std::string sig;
  for (size_t attempt = 0;; ++attempt) {
    sig = signature(inputs);
    for (auto it = plans_.begin(); it != plans_.end(); ++it)
      if ((*it)->signature == sig) {
        plans_.splice(plans_.begin(), plans_, it); // most recently used first
        return plans_.front().get();
      }
    Specialization spec;
    spec.maxLaidOutNodes = options_.maxLaidOutNodes;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].list) {
        spec.shapes[input(i).name] = inputs[i].desc.shape;
        continue;
      }
      if (!inputs[i].present) continue; // an optional without a value
      std::vector<Shape>& shapes = spec.items[input(i).name];
      for (const InputRef& item : inputs[i].items)
        shapes.push_back(item.desc.shape);
    }
    for (size_t i : valueInputs_) {
      const auto* p = static_cast<const uint8_t*>(inputs[i].data);
      spec.values[input(i).name] =
          std::make_shared<const std::vector<uint8_t>>(p, p + inputs[i].desc.byteSize());
    }
    Wanted wanted;
    auto result = specializeToProgram(*source_, spec, &wanted, &specialized);
    if (result.isOk()) {
      program = std::move(*result);
      break;
    }
    if (!wanted.values.empty()) return addPlan(std::move(sig), stagedPlan(wanted));
    size_t index = inputs.size();
    for (size_t i = 0; i < inputs.size(); ++i)
      if (!wanted.input.empty() && input(i).name == wanted.input) index = i;
    if (index == inputs.size() || attempt >= inputs.size() ||
        std::find(valueInputs_.begin(), valueInputs_.end(), index) != valueInputs_.end())
      return result.status();
    valueInputs_.push_back(index);
    std::sort(valueInputs_.begin(), valueInputs_.end());
  }
  auto plan = std::make_unique<Plan>();
  int next = 0;
  for (int32_t v : specialized.inputs)
    plan->sessionInput.push_back(specialized.values[v].constant ? -1 : next++);
  plan->outputItems = specialized.outputItems;
  plan->program = std::move(program);
  TESSEL_ASSIGN_OR_RETURN(plan->session,
                          Session::create(plan->program, *registry_, options_.session));
  for (int32_t id : plan->program->outputs)
    plan->outputs.push_back(plan->program->tensors[id].desc);
  size_t start = 0;
  for (int32_t items : plan->outputItems) {
    plan->outputStart.push_back(start);
    start += items < 0 ? 1 : static_cast<size_t>(items);
  }
  return addPlan(std::move(sig), std::move(plan));
}

Result<std::unique_ptr<DynamicSession::Plan>> DynamicSession::stagedPlan(const Wanted& wanted) {
  // Each stage nests a run in the one before (a while loop's iterations, each a stage): bounded.
  constexpr int kMaxDepth = 256;
  if (depth_ >= kMaxDepth)
    return unsupported("the plan needs more than " + std::to_string(kMaxDepth) +
                       " stages (values computed from the run's data, one after another)");
  TESSEL_ASSIGN_OR_RETURN(Stages stages, splitAt(wanted.expanded ? *wanted.expanded : *source_,
                                                 wanted.values, wanted.described));
  auto plan = std::make_unique<Plan>();
  TESSEL_ASSIGN_OR_RETURN(
      plan->prefix, create(std::make_shared<const Graph>(std::move(stages.prefix)), options_));
  TESSEL_ASSIGN_OR_RETURN(
      plan->suffix, create(std::make_shared<const Graph>(std::move(stages.suffix)), options_));
  plan->prefix->registry_ = plan->suffix->registry_ = registry_;
  plan->prefix->depth_ = plan->suffix->depth_ = depth_ + 1;
  plan->prefixFrom = std::move(stages.prefixFrom);
  plan->suffixFrom = std::move(stages.suffixFrom);
  return plan;
}

Result<DynamicSession::Plan*> DynamicSession::addPlan(std::string signature,
                                                      Result<std::unique_ptr<Plan>> plan) {
  if (!plan.isOk()) return plan.status();
  (*plan)->signature = std::move(signature); // the signature specialization succeeded with
  plans_.push_front(std::move(*plan));
  while (plans_.size() > static_cast<size_t>(options_.cachedPlans))
    plans_.pop_back();
  ++plansBuilt_;
  lastRunPlanned_ = true;
  return plans_.front().get();
}

Status DynamicSession::runStages(Plan& plan, const std::vector<InputRef>& inputs) {
  std::vector<InputRef> prefixInputs;
  for (int i : plan.prefixFrom)
    prefixInputs.push_back(inputs[static_cast<size_t>(i)]);
  TESSEL_RETURN_IF_ERROR(plan.prefix->run(prefixInputs));
  std::vector<InputRef> suffixInputs;
  for (int i : plan.suffixFrom) {
    if (i >= 0) {
      suffixInputs.push_back(inputs[static_cast<size_t>(i)]);
    } else {
      const size_t k = static_cast<size_t>(-1 - i);
      suffixInputs.push_back(
          {plan.prefix->outputDesc(k), plan.prefix->outputData(k), false, true, {}});
    }
  }
  TESSEL_RETURN_IF_ERROR(plan.suffix->run(suffixInputs));
  lastRunPlanned_ =
      lastRunPlanned_ || plan.prefix->lastRunPlanned() || plan.suffix->lastRunPlanned();
  lastPlanSeconds_ += plan.prefix->lastPlanSeconds() + plan.suffix->lastPlanSeconds();
  return Status::ok();
}

Status DynamicSession::run(const std::vector<InputRef>& inputs) {
  if (inputs.size() != inputCount())
    return invalidArgument("the model has " + std::to_string(inputCount()) + " inputs, " +
                           std::to_string(inputs.size()) + " given");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value& in = input(i);
    const bool list = in.kind != ValueKind::Tensor;
    if (inputs[i].list != list)
      return invalidArgument("input '" + in.name + "' is " +
                             (list ? "a sequence or optional: give its tensors" : "a tensor") +
                             ", given " + (list ? "a tensor" : "a list"));
    if (list) {
      const bool optional =
          in.kind == ValueKind::Optional || in.kind == ValueKind::OptionalSequence;
      if (!inputs[i].present && !optional)
        return invalidArgument("input '" + in.name + "' is a sequence: it needs a value");
      for (const InputRef& item : inputs[i].items) {
        if (item.desc.dtype != in.desc.dtype)
          return invalidArgument("input '" + in.name + "' holds " +
                                 std::string(dtypeName(in.desc.dtype)) + ", given " +
                                 std::string(dtypeName(item.desc.dtype)));
        if (!item.data && item.desc.byteSize() > 0)
          return invalidArgument("input '" + in.name + "' has an element without data");
      }
      continue;
    }
    const TensorDesc& d = inputs[i].desc;
    if (d.dtype != in.desc.dtype)
      return invalidArgument("input '" + in.name + "' is " + std::string(dtypeName(in.desc.dtype)) +
                             ", given " + std::string(dtypeName(d.dtype)));
    bool fits = d.shape.size() == in.desc.shape.size();
    for (size_t k = 0; fits && k < d.shape.size(); ++k)
      fits = d.shape[k] >= 0 && (in.desc.shape[k] < 0 || in.desc.shape[k] == d.shape[k]);
    if (!fits)
      return invalidArgument("input '" + in.name + "' has shape " + shapeToString(d.shape) +
                             ", the model declares " + shapeToString(in.desc.shape));
    if (!inputs[i].data && d.byteSize() > 0)
      return invalidArgument("input '" + in.name + "' has no data");
  }
  lastRunPlanned_ = false;
  lastPlanSeconds_ = 0;
  last_ = nullptr;
  const auto planStart = std::chrono::steady_clock::now();
  TESSEL_ASSIGN_OR_RETURN(Plan * plan, planFor(inputs));
  if (lastRunPlanned_)
    lastPlanSeconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - planStart).count();
  if (plan->suffix) {
    TESSEL_RETURN_IF_ERROR(runStages(*plan, inputs));
    last_ = plan;
    return Status::ok();
  }
  // The tensors in the specialized graph's input order: list inputs' elements in their place.
  std::vector<const InputRef*> flat;
  for (const InputRef& in : inputs) {
    if (!in.list) {
      flat.push_back(&in);
      continue;
    }
    if (in.present)
      for (const InputRef& item : in.items)
        flat.push_back(&item);
  }
  if (flat.size() != plan->sessionInput.size())
    return internalError("the plan takes " + std::to_string(plan->sessionInput.size()) +
                         " tensors, the run gives " + std::to_string(flat.size()));
  for (size_t i = 0; i < flat.size(); ++i)
    if (plan->sessionInput[i] >= 0)
      TESSEL_RETURN_IF_ERROR(plan->session->setInput(static_cast<size_t>(plan->sessionInput[i]),
                                                     flat[i]->data, flat[i]->desc.byteSize()));
  TESSEL_RETURN_IF_ERROR(plan->session->run());
  last_ = plan;
  return Status::ok();
}

int32_t DynamicSession::outputItems(size_t i) const {
  if (!last_) return -1;
  if (last_->suffix) return last_->suffix->outputItems(i);
  return i < last_->outputItems.size() ? last_->outputItems[i] : -1;
}

// Whether the last run's output i has tensor k: a tensor output has one, a list output as many
// as it holds (an empty sequence or an absent optional none).
bool DynamicSession::hasOutputItem(size_t i, size_t k) const {
  const int32_t items = outputItems(i);
  return i < last_->outputStart.size() && k < static_cast<size_t>(items < 0 ? 1 : items);
}

const TensorDesc& DynamicSession::outputItemDesc(size_t i, size_t k) const {
  static const TensorDesc kNone;
  if (!last_) return kNone;
  if (last_->suffix) return last_->suffix->outputItemDesc(i, k);
  return hasOutputItem(i, k) ? last_->outputs[last_->outputStart[i] + k] : kNone;
}

const void* DynamicSession::outputItemData(size_t i, size_t k) const {
  if (!last_) return nullptr;
  if (last_->suffix) return last_->suffix->outputItemData(i, k);
  return hasOutputItem(i, k) ? last_->session->outputData(last_->outputStart[i] + k) : nullptr;
}

const TensorDesc& DynamicSession::outputDesc(size_t i) const {
  return outputItemDesc(i, 0);
}

const void* DynamicSession::outputData(size_t i) const {
  return outputItemData(i, 0);
}

const Session& DynamicSession::session() const {
  return last_->suffix ? last_->suffix->session() : *last_->session;
}

int DynamicSession::stages() const {
  if (!last_) return 0;
  return last_->suffix ? last_->prefix->stages() + last_->suffix->stages() : 1;
}

} // namespace tessel::graph
