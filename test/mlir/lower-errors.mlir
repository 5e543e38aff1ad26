// RUN: mcc-opt --mcc-lower-to-llvm %s -split-input-file -verify-diagnostics

module attributes {mcc.weights = ["emb"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x32xf32> {
    %x = mcc.embedding %tok {hidden = 32 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x32xf32>
    // expected-error @+1 {{names weight 'missing', which is not in the module's mcc.weights}}
    %y = mcc.qmatmul %x {cols = 32 : i64, rows = array<i64: 32>, scheme = "F32", weights = ["missing"]} : tensor<1x32xf32> -> tensor<1x32xf32>
    return %y : tensor<1x32xf32>
  }
}

// -----


// Activations must come from ops: an entry point takes token ids and a
// position, nothing else the workspace could hold.
module attributes {mcc.weights = ["a"]} {
  // expected-error @+1 {{is read as activations, but only op results have a place in the workspace}}
  func.func @step(%x: tensor<1x32xf32>, %pos: i32) -> tensor<1x8xf32> {
    %y = mcc.qmatmul %x {cols = 32 : i64, rows = array<i64: 8>, scheme = "F32", weights = ["a"]} : tensor<1x32xf32> -> tensor<1x8xf32>
    return %y : tensor<1x8xf32>
  }
}
