// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=0" %s | FileCheck %s

// The generated code decides what each thread does. The fused RMSNorm
// prologue is a region (run on every thread by McApi.parallel, field 4)
// writing a buffer of its own; the product is a second region where each
// thread computes its share of the rows of Q and K, dealt out as one range
// of 48 rows in multiples of 16, and calls the micro-kernel
// (McApi.matmul_rows, field 1) on it with constant shapes and weight
// indices. Workspace: the embedding (32 floats) at 0, Q (32) at 32, K (16)
// at 64, the normed activations (32) at 80: 112 floats.
// CHECK: module attributes {mcc.weights = ["emb", "n", "q", "k"], mcc.workspace_floats = 112 : i64}
// CHECK: llvm.func @mcc_step(%[[API:arg[0-9]]]: !llvm.ptr, %[[EXEC:arg[0-9]]]: !llvm.ptr, %[[WS:arg[0-9]]]: !llvm.ptr, %[[TOK:arg[0-9]]]: !llvm.ptr, %{{.*}}: i32) -> !llvm.ptr attributes {passthrough = ["nounwind", "no-builtins"]}
// embedding: McApi field 0, weight 0, 1 row of 32, into the workspace at 0
// (the offset-0 address folds to the workspace itself)
// CHECK: %[[F0:.*]] = llvm.getelementptr %[[API]][0, 0]
// CHECK: %[[E:.*]] = llvm.load %[[F0]]
// CHECK: llvm.call %[[E]](%[[EXEC]], %{{.*}}, %[[TOK]], %{{.*}}, %{{.*}}, %[[WS]])
// CHECK-COUNT-2: llvm.getelementptr %[[API]][0, 4]
// CHECK: %[[RET:.*]] = llvm.getelementptr %[[WS]][64]
// CHECK: llvm.return %[[RET]]
// The prologue region: its slice of the rows from (thread, n_threads), the
// norm weight from McApi.small_vector (field 3), a sum of squares in f64.
// CHECK: llvm.func @mcc_region_0(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32)
// CHECK: llvm.sdiv
// CHECK: llvm.getelementptr %{{.*}}[0, 3]
// CHECK: llvm.fadd {{.*}} {fastmathFlags = #llvm.fastmath<reassoc>} : f64
// CHECK: llvm.intr.sqrt
// CHECK: llvm.return
// The product's region: 48 rows, rounded to 16 (whole panels); Q is weight 2 into offset 32,
// K weight 3 into 64, both reading the normed rows at 80, 1 token row.
// CHECK: llvm.func @mcc_region_1(
// CHECK-DAG: llvm.mlir.constant(16 : i64)
// CHECK-DAG: llvm.mlir.constant(15 : i64)
// CHECK-DAG: llvm.mlir.constant(48 : i64)
// CHECK: llvm.intr.smin
// CHECK: %[[N1:.*]] = llvm.getelementptr %{{.*}}[80]
// CHECK: %[[Q:.*]] = llvm.getelementptr %{{.*}}[32]
// CHECK: llvm.getelementptr %{{.*}}[0, 1]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %[[N1]], %[[Q]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, !llvm.ptr, !llvm.ptr, i64, i64, i64, !llvm.ptr) -> ()
// CHECK: %[[N2:.*]] = llvm.getelementptr %{{.*}}[80]
// CHECK: %[[K:.*]] = llvm.getelementptr %{{.*}}[64]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %[[N2]], %[[K]],
// CHECK: llvm.return
// CHECK-NOT: mcc.
// CHECK-NOT: func.func
// CHECK-NOT: scf.
// CHECK-NOT: arith.
module attributes {mcc.weights = ["emb", "n", "q", "k"]} {
  func.func @step(%tok: tensor<1xi32>, %pos: i32) -> tensor<1x16xf32> {
    %x = mcc.embedding %tok {hidden = 32 : i64, scheme = "F32", vocab = 100 : i64, weight = "emb"} : tensor<1xi32> -> tensor<1x32xf32>
    %qk:2 = mcc.qmatmul %x {cols = 32 : i64, eps = 1.0e-5 : f32, norm = "n", prologue = "rms_norm", rows = array<i64: 32, 16>, scheme = "F32", weights = ["q", "k"]} : tensor<1x32xf32> -> tensor<1x32xf32>, tensor<1x16xf32>
    return %qk#1 : tensor<1x16xf32>
  }
}
