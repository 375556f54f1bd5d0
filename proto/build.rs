//! Compiles every `.proto` under this crate with `protox` (pure Rust), so a
//! fresh machine needs no `protoc`. The encoded descriptor set is kept for
//! server reflection and for the gateway's REST transcoder and OpenAPI.
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect(&root.join("filieris"), &mut files)?;
    collect(&root.join("google"), &mut files)?;
    files.sort();
    // The folders too, so that a new .proto file triggers a rebuild.
    println!("cargo:rerun-if-changed=filieris");
    println!("cargo:rerun-if-changed=google");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    // The encoded set keeps every option (google.api.http, field_behavior) and
    // the source comments: decoding through prost_types would drop extensions.
    let mut compiler = protox::Compiler::new([root])?;
    compiler.include_imports(true).include_source_info(true).open_files(&files)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("filieris_descriptor.bin"), compiler.encode_file_descriptor_set())?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(env!("CARGO_MANIFEST_DIR")).map(Path::to_path_buf).unwrap_or(path));
        }
    }
    Ok(())
}
