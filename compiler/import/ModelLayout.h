// Which weights a model of given hyper-parameters has, under canonical names,
// with the logical shape each must have. Both importers check against this.
#pragma once

#include "format/ModelDesc.h"

#include <string>
#include <vector>

namespace mcc {

struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape; // logical: {out, in} or {n}
  bool matrix() const { return shape.size() == 2; }
};

std::vector<WeightSpec> expectedWeights(const HyperParams &hp);

std::string shapeString(const std::vector<int64_t> &shape);

} // namespace mcc
