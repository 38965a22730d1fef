// tessel-fuse-activation: conv2d + relu/clip -> conv2d with an activation.
#include "tessel/ir/Passes.h"
#include "tessel/ir/PrimitiveConversion.h"

namespace tessel::ir {
#define GEN_PASS_DEF_TESSELFUSEACTIVATION
#include "tessel/ir/Passes.h.inc"

namespace {

struct TesselFuseActivation : impl::TesselFuseActivationBase<TesselFuseActivation> {
  void runOnOperation() override {
    std::vector<Conv2dOp> convs;
    getOperation().walk([&](Conv2dOp op) { convs.push_back(op); });
    for (Conv2dOp conv : convs) {
      if (conv.getActivation() != "none" || !conv.getResult().hasOneUse()) continue;
      auto act = llvm::dyn_cast<UnaryOp>(*conv.getResult().getUsers().begin());
      if (!act || (act.getKind() != "relu" && act.getKind() != "clip")) continue;
      conv.setActivationAttr(act.getKindAttr());
      if (act.getKind() == "clip") {
        conv.setActMinAttr(act.getAlphaAttr());
        conv.setActMaxAttr(act.getBetaAttr());
      }
      act.getResult().replaceAllUsesWith(conv.getResult());
      act->erase();
    }
  }
};

} // namespace
} // namespace tessel::ir
