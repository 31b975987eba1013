{
  "variables": {
    "openblas_include%": "/usr/include/openblas",
    "openblas_libdir%": "/usr/lib"
  },
  "targets": [
    {
      "target_name": "peftlab_blas",
      "sources": ["blas.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-math-errno"],
      "include_dirs": ["<(openblas_include)"],
      "libraries": ["-L<(openblas_libdir)", "-lopenblas", "-lm"]
    },
    {
      "target_name": "peftlab_llama",
      "sources": ["llama.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-ffp-contract=off", "-fno-math-errno"],
      "libraries": ["-lm"]
    }
  ]
}
