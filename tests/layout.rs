//! The shape the code keeps (issue "Reshape the core"): small files, one place that reads
//! DOCKER_HOST, and no import cycle between the top-level modules of src/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const MAX_LINES: usize = 450;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("a source file is UTF-8");
            (p.strip_prefix(SRC).unwrap().to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// The top-level module a file belongs to: `docker/logs/mod.rs` → `docker`, `error.rs` → `error`.
fn module_of(file: &str) -> String {
    let first = file.split('/').next().unwrap();
    first.trim_end_matches(".rs").to_owned()
}

#[test]
fn no_source_file_is_longer_than_450_lines() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|(_, text)| text.lines().count() > MAX_LINES)
        .map(|(file, text)| format!("{file}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these by what they own: {long:?}");
}

#[test]
fn docker_host_is_read_in_one_place() {
    let readers: Vec<String> = sources()
        .iter()
        .filter(|(_, text)| text.contains("var(\"DOCKER_HOST\")"))
        .map(|(file, _)| file.clone())
        .collect();
    assert_eq!(readers, ["http/endpoint.rs"]);
}

#[test]
fn the_top_level_modules_import_each_other_without_a_cycle() {
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in sources() {
        let module = module_of(&file);
        if module == "lib" {
            continue;
        }
        let deps = uses.entry(module.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != module && name.chars().next().is_some_and(char::is_lowercase) {
                deps.insert(name);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(m: &str, uses: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("import cycle: {} -> {m}", path[at..].join(" -> "));
        }
        path.push(m.to_owned());
        for dep in uses.get(m).into_iter().flatten() {
            visit(dep, uses, path, done);
        }
        path.pop();
        done.insert(m.to_owned());
    }
    let mut done = BTreeSet::new();
    for module in uses.keys() {
        visit(module, &uses, &mut Vec::new(), &mut done);
    }
    assert!(uses["engine"].iter().all(|d| d != "docker"), "the Engine abstraction names no engine: {:?}", uses["engine"]);
}
