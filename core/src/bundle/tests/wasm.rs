use super::{leb, section, wasm_module};
use crate::bundle::{ExportKind, WasmExport, is_wasm, wasm_export_list, wasm_exports};

#[test]
fn lists_function_and_memory_exports_in_order() {
    let module = wasm_module(&["funcmesh_alloc", "listPets"], true);
    assert_eq!(
        wasm_exports(&module).unwrap(),
        ["funcmesh_alloc", "listPets", "memory"]
    );
    let kinds: Vec<ExportKind> = wasm_export_list(&module)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [ExportKind::Func, ExportKind::Func, ExportKind::Memory]
    );
}

#[test]
fn multi_byte_lengths_and_indices() {
    let names: Vec<String> = (0..200)
        .map(|i| format!("op{i}"))
        .chain(["x".repeat(300)])
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let exports = wasm_export_list(&wasm_module(&refs, false)).unwrap();
    assert_eq!(exports.len(), 201);
    assert_eq!(
        exports[199],
        WasmExport {
            name: "op199".into(),
            kind: ExportKind::Func
        }
    );
    assert_eq!(exports[200].name.len(), 300);
}

#[test]
fn skips_custom_sections_and_handles_no_exports() {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(&mut module, 0, b"\x04name\x00\x00");
    assert_eq!(wasm_exports(&module).unwrap(), Vec::<String>::new());
    let tail = wasm_module(&["f"], true);
    module.extend(&tail[8..]);
    assert_eq!(wasm_exports(&module).unwrap(), ["f", "memory"]);
}

#[test]
fn rejects_what_is_not_a_core_module() {
    assert!(!is_wasm(b"PK\x03\x04"));
    assert!(
        wasm_exports(b"hello world")
            .unwrap_err()
            .contains("not a WebAssembly module")
    );
    let component = b"\0asm\x0d\0\x01\0";
    assert!(
        wasm_exports(component)
            .unwrap_err()
            .contains("not a core module")
    );
}

#[test]
fn rejects_truncated_and_overlong_input() {
    let module = wasm_module(&["funcmesh_alloc", "listPets"], true);
    for cut in [9, 12, module.len() - 20] {
        assert!(
            wasm_exports(&module[..cut])
                .unwrap_err()
                .contains("truncated"),
            "cut at {cut}"
        );
    }
    let mut overlong = b"\0asm\x01\0\0\0\x07".to_vec();
    overlong.extend([0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(wasm_exports(&overlong).unwrap_err().contains("LEB128"));
    assert_eq!(leb(624_485), [0xe5, 0x8e, 0x26]);
}
