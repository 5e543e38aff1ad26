// RUN: mcc-opt %s -split-input-file -verify-diagnostics

func.func @cols(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  // expected-error @+1 {{input has 64 columns, the weights 32}}
  %y = mcc.qmatmul %x {cols = 32 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["w"]} : tensor<1x64xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

func.func @rows(%x: tensor<1x64xf32>) -> tensor<1x16xf32> {
  // expected-error @+1 {{result 0 must be 1x32}}
  %y = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["w"]} : tensor<1x64xf32> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

func.func @names(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  // expected-error @+1 {{needs one name, one row count and one result per weight (2, 1, 1)}}
  %y = mcc.qmatmul %x {cols = 64 : i64, rows = array<i64: 32>, scheme = "Q4_0", weights = ["w", "v"]} : tensor<1x64xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

func.func @prologue(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  // expected-error @+1 {{prologue 'swiglu' takes 2 input(s), not 1}}
  %y = mcc.qmatmul %x {cols = 64 : i64, prologue = "swiglu", rows = array<i64: 32>, scheme = "Q4_0", weights = ["w"]} : tensor<1x64xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

func.func @norm_attrs(%x: tensor<1x64xf32>) -> tensor<1x32xf32> {
  // expected-error @+1 {{has norm/eps attributes exactly when its prologue is rms_norm}}
  %y = mcc.qmatmul %x {cols = 64 : i64, prologue = "rms_norm", rows = array<i64: 32>, scheme = "Q4_0", weights = ["w"]} : tensor<1x64xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

func.func @gqa(%q: tensor<1x64xf32>, %k: tensor<1x48xf32>, %p: i32) -> tensor<1x64xf32> {
  // expected-error @+1 {{heads 4 must be a multiple of kv_heads 3}}
  %a = mcc.attention %q, %k, %k at %p {head_dim = 16 : i64, heads = 4 : i64, kv_heads = 3 : i64, layer = 0 : i64, window = 0 : i64} : tensor<1x64xf32>, tensor<1x48xf32>, tensor<1x48xf32> -> tensor<1x64xf32>
  return %a : tensor<1x64xf32>
}

// -----

func.func @rope(%x: tensor<1x64xf32>, %p: i32) -> tensor<1x64xf32> {
  // expected-error @+1 {{head_dim 24 does not divide 64 columns}}
  %y = mcc.rope %x at %p {head_dim = 24 : i64, rope_dim = 24 : i64, style = "neox", theta = 1.0e4 : f32} : tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @norm_group(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  // expected-error @+1 {{group 48 does not divide 64 columns}}
  %y = mcc.rms_norm %x {eps = 1.0e-5 : f32, group = 48 : i64, weight = "n"} : tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

func.func @rope_attrs(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %p: i32) -> tensor<1x64xf32> {
  // expected-error @+1 {{has rope_style and rope_dim together or not at all}}
  %a = mcc.attention %q, %k, %k at %p {head_dim = 16 : i64, heads = 4 : i64, kv_heads = 2 : i64, layer = 0 : i64, rope_style = "neox", window = 0 : i64} : tensor<1x64xf32>, tensor<1x32xf32>, tensor<1x32xf32> -> tensor<1x64xf32>
  return %a : tensor<1x64xf32>
}
