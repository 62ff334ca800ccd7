{
  "targets": [
    {
      "target_name": "gzip_binding",
      "sources": ["src/binding.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": ["-ldeflate"]
    }
  ]
}
