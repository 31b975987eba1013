{
  # bin/build-native.mjs sets these: blas = openblas | accelerate | own (the BLAS behind
  # peftlab_blas.node), own_too = 1 to build peftlab_gemm.node (the own GEMM) beside it.
  "variables": {
    "blas%": "openblas",
    "own_too%": "0",
    "openblas_include%": "/usr/include/openblas",
    "openblas_libdir%": "/usr/lib"
  },
  "target_defaults": {
    "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-math-errno"],
    "xcode_settings": {
      "OTHER_CFLAGS": ["-std=c11", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-math-errno", "-Wno-deprecated-declarations"]
    }
  },
  "targets": [
    {
      "target_name": "peftlab_blas",
      "sources": ["blas.c"],
      "conditions": [
        ["blas=='openblas'", {
          "defines": ["PEFTLAB_BLAS_OPENBLAS"],
          "include_dirs": ["<(openblas_include)"],
          "libraries": ["-L<(openblas_libdir)", "-lopenblas", "-lm"]
        }],
        ["blas=='accelerate'", {
          "defines": ["PEFTLAB_BLAS_ACCELERATE"],
          "libraries": ["-framework Accelerate"]
        }],
        ["blas=='own'", {
          "defines": ["PEFTLAB_BLAS_OWN"],
          "sources": ["gemm.c"],
          "libraries": ["-lpthread", "-lm"]
        }]
      ]
    },
    {
      "target_name": "peftlab_llama",
      "sources": ["llama.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-math-errno"],
      "libraries": ["-lm"]
    }
  ],
  "conditions": [
    ["own_too==1", {
      "targets": [
        {
          "target_name": "peftlab_gemm",
          "sources": ["blas.c", "gemm.c"],
          "defines": ["PEFTLAB_BLAS_OWN"],
          "libraries": ["-lpthread", "-lm"]
        }
      ]
    }]
  ]
}
