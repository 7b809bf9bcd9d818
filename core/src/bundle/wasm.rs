//! Just enough of the WebAssembly binary format to list a module's exports,
//! so that loading can check the handlers without compiling the module
//! (that is the runner's job, and core does not depend on wasmtime).

const MAGIC: &[u8; 4] = b"\0asm";
const VERSION_1: [u8; 4] = [1, 0, 0, 0];
const EXPORT_SECTION: u8 = 7;

/// What an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A linear memory.
    Memory,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
}

/// One export of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmExport {
    /// The name it is exported under.
    pub name: String,
    /// What it is.
    pub kind: ExportKind,
}

/// Whether `bytes` start like a WebAssembly binary (`\0asm`).
pub fn is_wasm(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The names a core module exports, in the order of its export section.
pub fn wasm_exports(bytes: &[u8]) -> Result<Vec<String>, String> {
    Ok(wasm_export_list(bytes)?
        .into_iter()
        .map(|e| e.name)
        .collect())
}

/// The exports of a core module with their kinds.
pub fn wasm_export_list(bytes: &[u8]) -> Result<Vec<WasmExport>, String> {
    if !is_wasm(bytes) {
        return Err("not a WebAssembly module (no `\\0asm` header)".to_owned());
    }
    let mut reader = Reader {
        bytes,
        at: MAGIC.len(),
    };
    let version = reader.take(4)?;
    if version != VERSION_1 {
        return Err(format!(
            "WebAssembly version {version:02x?} is not a core module (a component?); funcmesh runs wasm32-wasip1 core modules"
        ));
    }
    while reader.at < bytes.len() {
        let id = reader.byte()?;
        let size = reader.leb_u32()? as usize;
        let contents = reader.take(size)?;
        if id == EXPORT_SECTION {
            return exports(contents);
        }
    }
    Ok(Vec::new())
}

fn exports(section: &[u8]) -> Result<Vec<WasmExport>, String> {
    let mut reader = Reader {
        bytes: section,
        at: 0,
    };
    let count = reader.leb_u32()?;
    // Every export takes at least three bytes; a larger count is a lie.
    let mut out = Vec::with_capacity((count as usize).min(section.len() / 3));
    for _ in 0..count {
        let len = reader.leb_u32()? as usize;
        let name =
            std::str::from_utf8(reader.take(len)?).map_err(|_| "an export name is not UTF-8")?;
        let kind = match reader.byte()? {
            0 => ExportKind::Func,
            1 => ExportKind::Table,
            2 => ExportKind::Memory,
            3 => ExportKind::Global,
            4 => ExportKind::Tag,
            other => return Err(format!("export `{name}` has unknown kind {other:#04x}")),
        };
        reader.leb_u32()?;
        out.push(WasmExport {
            name: name.to_owned(),
            kind,
        });
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// Unsigned LEB128, at most five bytes for a u32.
    fn leb_u32(&mut self) -> Result<u32, String> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            if shift == 28 && byte > 0x0f {
                return Err(format!("LEB128 overflow at byte {}", self.at - 1));
            }
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("LEB128 too long at byte {}", self.at))
    }
}
