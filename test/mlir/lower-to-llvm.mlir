// RUN: mcc-opt "--mcc-lower-to-llvm=serial-below=0" %s | FileCheck %s

// The generated code decides what each thread does. The fused RMSNorm
// prologue is a region (run on every thread by McApi.parallel, field 4)
// writing a buffer of its own; the product is a second region. The rows of
// Q and K are one range of 48, dealt by the runtime (McApi.deal_rows,
// field 8, called before the region): in it each thread takes ranges
// while McApi.take_rows (field 9) gives one, and calls the micro-kernel
// (McApi.matmul_rows, field 1) on each weight's part of it with constant
// shapes and weight indices. Workspace: the embedding (32 floats) at 0, Q
// (32) at 32, K (16) at 64, the normed activations (32) at 80: 112 floats.
// CHECK: module attributes {mcc.weights = ["emb", "n", "q", "k"], mcc.workspace_floats = 112 : i64}
// CHECK: llvm.func @mcc_step(%[[API:arg[0-9]]]: !llvm.ptr, %[[EXEC:arg[0-9]]]: !llvm.ptr, %[[WS:arg[0-9]]]: !llvm.ptr, %[[TOK:arg[0-9]]]: !llvm.ptr, %{{.*}}: i32) -> !llvm.ptr attributes {passthrough = ["nounwind", "no-builtins"]}
// embedding: McApi field 0, weight 0, 1 row of 32, into the workspace at 0
// (the offset-0 address folds to the workspace itself)
// CHECK: %[[F0:.*]] = llvm.getelementptr %[[API]][0, 0]
// CHECK: %[[E:.*]] = llvm.load %[[F0]]
// CHECK: llvm.call %[[E]](%[[EXEC]], %{{.*}}, %[[TOK]], %{{.*}}, %{{.*}}, %[[WS]])
// CHECK: llvm.getelementptr %[[API]][0, 4]
// CHECK: %[[DEAL:.*]] = llvm.getelementptr %[[API]][0, 8]
// CHECK: %[[D:.*]] = llvm.load %[[DEAL]]
// CHECK: llvm.call %[[D]](%[[EXEC]], %{{.*}}) : !llvm.ptr, (!llvm.ptr, i64) -> ()
// CHECK: llvm.getelementptr %[[API]][0, 4]
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
// The product's region: a loop over the ranges take_rows gives this thread
// (its index, two slots for the range), each cut at Q's 32 rows; Q is
// weight 2 into offset 32, K weight 3 into 64, both reading the normed rows
// at 80, 1 token row.
// CHECK: llvm.func @mcc_region_1(%[[RAPI:arg[0-9]]]: !llvm.ptr, %[[REXEC:arg[0-9]]]: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i32, %[[T:arg[0-9]]]: i32, %{{.*}}: i32)
// CHECK: %[[LO:.*]] = llvm.alloca
// CHECK: %[[HI:.*]] = llvm.alloca
// CHECK: ^bb1:
// CHECK: %[[TAKE:.*]] = llvm.getelementptr %[[RAPI]][0, 9]
// CHECK: %[[TK:.*]] = llvm.load %[[TAKE]]
// CHECK: %[[GOT:.*]] = llvm.call %[[TK]](%[[REXEC]], %[[T]], %[[LO]], %[[HI]]) : !llvm.ptr, (!llvm.ptr, i32, !llvm.ptr, !llvm.ptr) -> i32
// CHECK: llvm.icmp "ne" %[[GOT]]
// CHECK: llvm.cond_br
// CHECK: llvm.load %[[LO]]
// CHECK: llvm.load %[[HI]]
// CHECK: llvm.intr.smin
// CHECK: %[[N1:.*]] = llvm.getelementptr %{{.*}}[80]
// CHECK: %[[Q:.*]] = llvm.getelementptr %{{.*}}[32]
// CHECK: llvm.getelementptr %{{.*}}[0, 1]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %[[N1]], %[[Q]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !llvm.ptr, (!llvm.ptr, i32, !llvm.ptr, !llvm.ptr, i64, i64, i64, !llvm.ptr) -> ()
// CHECK: %[[N2:.*]] = llvm.getelementptr %{{.*}}[80]
// CHECK: %[[K:.*]] = llvm.getelementptr %{{.*}}[64]
// CHECK: llvm.call %{{.*}}(%{{.*}}, %{{.*}}, %[[N2]], %[[K]],
// CHECK: llvm.br ^bb1
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
