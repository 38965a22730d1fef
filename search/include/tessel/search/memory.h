// The memory a plan needs, and plans kept within a budget of it: the weights its kernels keep
// (PlanOption::bytes) and the arenas its sessions allocate (the tensors as laid out, alive at once,
// and the kernels' workspaces). docs/search.md, Memory.
#pragma once

#include "tessel/search/plan_model.h"

#include <functional>

namespace tessel::search {

// The arenas a session of the plan allocates, summed over memory spaces, as Session::allocate
// packs them (packLifetimes): per space, each tensor stored there from the step that writes it
// to its last reader (program inputs and outputs for the whole run), each kernel's workspace
// (PlanOption::workspace) at its step. A view shares its input's storage; a tensor read in
// another memory space is stored there too (copied), from its first reader there; a device
// space holds the constants its kernels read for the session's life, the host none. A fused
// chain (assignment.fused) stores none of its inner tensors, and its step takes its fused
// kernel's workspace (BackendDescriptor::chainWorkspaceBytes). An upper bound on the session's: the
// storage a session shares besides views (an output written over a dying input, rasters gathering
// into a concat) is not counted.
int64_t planArenaBytes(const ModelPlanRequest& request, const ModelPlan& plan);

// Keeps the plan within the request's budgets: its weights within weightBudget, its weights
// plus its arenas within memoryBudget. While over one, the primitive whose backend has a kernel
// (for the same layouts) that saves bytes where the budget is exceeded at the least added time
// per byte saved takes it (times as the plan weighed them: measured or estimated); over the
// total, so may every primitive whose workspace exceeds a bound at once (a peak falls only when
// every step at it needs less). A fused chain's primitives keep their kernels. Sets
// plan->weightBytes and plan->arenaBytes. Under a budget, names every primitive's kernel (no
// backend's first choice, which it resolves when prepared and could resolve to one that needs
// more). Fails naming the numbers when no choice of kernels fits.
Status fitMemoryBudget(const ModelPlanRequest& request, ModelPlan* plan);

// The whole plan under the budgets: planModel, the kernels again for the layouts it chose
// (pickKernels), the fused forms (`chains`, when given: the caller's pickChains, which sets
// plan->assignment.fused), then fitMemoryBudget. Where the budgets bound a plan that blocked
// tensors (whose padded channels take more memory), all of it again with every tensor plain:
// the faster of the two that fit. `layOut` lays the request's tensors (*request.tensors, which
// the caller owns) out as given; they are left as the plan returned lays them out.
Result<ModelPlan> planWithinBudgets(const ModelPlanRequest& request,
                                    const std::function<void(const std::vector<Layout>&)>& layOut,
                                    const std::function<Status(ModelPlan*)>& chains);

} // namespace tessel::search
