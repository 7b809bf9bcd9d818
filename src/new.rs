//! `funcmesh new rust|python NAME`: a complete bundle in a new directory,
//! anywhere. Its spec has a GET with a query parameter and a POST with a
//! validated JSON body; it has the handlers, their native tests, a
//! `funcmesh.toml` and a README. A Rust bundle carries the SDK it builds
//! against ([`crate::sdk`]), so it builds outside this repository.
//!
//! The templates are the files under `src/new/`, with `{{name}}` (the
//! bundle's name), `{{module}}` (its Python package), `{{sdk_dir}}` (the
//! Rust SDK's directory under `vendor/`) and, in the spec both languages
//! share, the operations' ids filled in.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::sdk;

/// The language of a new bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// A Rust crate built to WebAssembly.
    Rust,
    /// Python modules run by the runner's embedded CPython.
    Python,
}

/// One file of a template: where it goes (placeholders allowed) and its
/// text.
type Template = &'static [(&'static str, &'static str)];

const RUST: Template = &[
    ("Cargo.toml", include_str!("new/rust/Cargo.toml.in")),
    (
        ".cargo/config.toml",
        include_str!("new/rust/.cargo/config.toml"),
    ),
    (".gitignore", include_str!("new/rust/gitignore")),
    ("README.md", include_str!("new/rust/README.md")),
    ("funcmesh.toml", include_str!("new/rust/funcmesh.toml")),
    ("openapi.yaml", include_str!("new/openapi.yaml")),
    ("src/lib.rs", include_str!("new/rust/src/lib.rs")),
];

const PYTHON: Template = &[
    (".gitignore", include_str!("new/python/gitignore")),
    ("README.md", include_str!("new/python/README.md")),
    ("funcmesh.toml", include_str!("new/python/funcmesh.toml")),
    ("openapi.yaml", include_str!("new/openapi.yaml")),
    ("pytest.ini", include_str!("new/python/pytest.ini")),
    (
        "requirements.txt",
        include_str!("new/python/requirements.txt"),
    ),
    (
        "{{module}}/__init__.py",
        include_str!("new/python/pkg/__init__.py"),
    ),
    ("{{module}}/api.py", include_str!("new/python/pkg/api.py")),
    (
        "tests/test_api.py",
        include_str!("new/python/tests/test_api.py"),
    ),
];

/// What a new bundle is called, as each of its uses spells it.
#[derive(Debug, Clone)]
pub struct Names {
    /// The bundle's (and the Rust crate's) name, and its base path.
    pub name: String,
    /// Its Python package: the name with `-` written `_`.
    pub module: String,
}

impl Names {
    /// Checks `name`: a lower-case letter, then up to 62 lower-case
    /// letters, digits, `-` or `_`. It is the bundle's name, its base path,
    /// a Cargo package name and (with `_` for `-`) a Python package name.
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !first_ok || !rest_ok || name.len() > 63 {
            bail!(
                "`{name}` cannot name a bundle: use a lower-case letter, then up to 62 lower-case letters, digits, `-` or `_` (for example `orders` or `price-quote`)"
            );
        }
        if matches!(
            name,
            "test" | "tests" | "lib" | "target" | "vendor" | "funcmesh"
        ) {
            bail!("`{name}` is a name the bundle's own files use; choose another");
        }
        Ok(Self {
            name: name.to_owned(),
            module: name.replace('-', "_"),
        })
    }
}

/// Writes a new `language` bundle named `names` into `dir`, which must not
/// exist or be empty. Returns what was written, relative to `dir`.
pub fn write(language: Language, names: &Names, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir)
            .with_context(|| format!("{} exists and cannot be read", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: `funcmesh new` writes into a new or empty directory (give another with --dir)",
                dir.display()
            );
        }
    }
    let sdk_dir = sdk::rust_dir_name();
    let (template, hello, create_item, operations_are) = match language {
        Language::Rust => (
            RUST,
            "hello".to_owned(),
            "createItem".to_owned(),
            "Each operationId names a handler exported in src/lib.rs.",
        ),
        Language::Python => (
            PYTHON,
            format!("{}.api.hello", names.module),
            format!("{}.api.create_item", names.module),
            "Each operationId names a function as module.function.",
        ),
    };
    let fill = |text: &str| {
        text.replace("{{name}}", &names.name)
            .replace("{{module}}", &names.module)
            .replace("{{sdk_dir}}", &sdk_dir)
            .replace("{{hello}}", &hello)
            .replace("{{create_item}}", &create_item)
            .replace("{{operations_are}}", operations_are)
    };
    let mut written = Vec::new();
    for (path, text) in template {
        let relative = PathBuf::from(fill(path));
        sdk::write(&dir.join(&relative), &fill(text))?;
        written.push(relative);
    }
    if language == Language::Rust {
        let vendored = sdk::write_rust(&dir.join("vendor"))?;
        written.push(
            vendored
                .strip_prefix(dir)
                .map(Path::to_path_buf)
                .unwrap_or(vendored),
        );
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_spelled_for_python() {
        let names = Names::new("price-quote").unwrap();
        assert_eq!(names.module, "price_quote");
        for bad in [
            "",
            "Orders",
            "1st",
            "a b",
            "a/b",
            "ä",
            "lib",
            &"x".repeat(64),
        ] {
            assert!(Names::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_template_leaves_no_placeholder_unfilled() {
        for language in [Language::Rust, Language::Python] {
            let dir = tempfile::tempdir().unwrap();
            let names = Names::new("shop-api").unwrap();
            let written = write(language, &names, dir.path()).unwrap();
            for relative in &written {
                let path = dir.path().join(relative);
                if path.is_file() {
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(
                        !text.contains("{{"),
                        "{} keeps a placeholder",
                        path.display()
                    );
                }
                assert!(!relative.to_string_lossy().contains("{{"));
            }
        }
    }

    #[test]
    fn a_new_python_bundle_loads_with_its_two_operations() {
        let dir = tempfile::tempdir().unwrap();
        write(
            Language::Python,
            &Names::new("shop-api").unwrap(),
            dir.path(),
        )
        .unwrap();
        let bundle = funcmesh_core::bundle::load_dir(dir.path()).unwrap();
        assert_eq!(bundle.base_path, "/shop-api");
        let ids: Vec<&str> = bundle.operations.iter().map(|op| op.id.as_str()).collect();
        assert_eq!(ids, ["shop_api.api.hello", "shop_api.api.create_item"]);
    }

    #[test]
    fn a_directory_with_files_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let names = Names::new("shop").unwrap();
        let error = write(Language::Python, &names, dir.path()).unwrap_err();
        assert!(error.to_string().contains("not empty"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );
    }
}
