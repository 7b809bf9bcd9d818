//! `petstore`: the OpenAPI 3 petstore as a Func.
//!
//! Funcs are ephemeral (a fresh instance per request), so nothing is
//! stored: every answer is computed from the request. Pet `n` is always the
//! same pet, pet 0 never exists, and a created pet's id is derived from its
//! name.

use func_sdk::{Error, Request, Response, Result};
use serde::{Deserialize, Serialize};

func_sdk::export! {
    "listPets" => list_pets,
    "createPet" => create_pet,
    "getPet" => get_pet,
    "deletePet" => delete_pet,
}

/// The pets every id maps onto, cycling.
const CATALOGUE: [(&str, &str); 6] = [
    ("Rex", "dog"),
    ("Tom", "cat"),
    ("Tweety", "bird"),
    ("Fido", "dog"),
    ("Felix", "cat"),
    ("Polly", "bird"),
];
/// The tags `listPets` filters on (the `Tag` schema).
const TAGS: [&str; 3] = ["dog", "cat", "bird"];
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;

/// A pet as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pet {
    /// Never 0.
    pub id: u64,
    /// Never empty.
    pub name: String,
    /// The kind of pet, free text when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Age in years.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
}

/// The body of `createPet`.
#[derive(Debug, Deserialize)]
struct NewPet {
    name: String,
    tag: Option<String>,
    age: Option<u64>,
}

/// `GET /pets?limit=&tag=`: the first `limit` pets, of kind `tag` if given.
pub fn list_pets(req: Request) -> Result<Response> {
    let limit = req.query_as::<u64>("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(format!(
            "`limit` must be in 1..={MAX_LIMIT}"
        )));
    }
    let tag = req.query("tag");
    if let Some(tag) = tag.filter(|t| !TAGS.contains(t)) {
        return Err(Error::bad_request(format!(
            "`tag` must be one of {TAGS:?}, not `{tag}`"
        )));
    }
    let pets: Vec<Pet> = (1..)
        .map(pet)
        .filter(|p| tag.is_none() || p.tag.as_deref() == tag)
        .take(limit as usize)
        .collect();
    Ok(Response::json(&pets))
}

/// `POST /pets`: echoes the pet with an id derived from its name, and says
/// where it would live.
pub fn create_pet(req: Request) -> Result<Response> {
    let new: NewPet = req.json()?;
    if new.name.is_empty() {
        return Err(Error::bad_request("`name` must not be empty"));
    }
    let created = Pet {
        id: id_for(&new.name),
        name: new.name,
        tag: new.tag,
        age: new.age,
    };
    let location = format!("{}/pets/{}", req.base_path(), created.id);
    Ok(Response::json(&created)
        .with_status(201)
        .header("location", location))
}

/// `GET /pets/{petId}`: pet `petId`; 404 for pet 0.
pub fn get_pet(req: Request) -> Result<Response> {
    let id = existing_pet_id(&req)?;
    Ok(Response::json(&pet(id)))
}

/// `DELETE /pets/{petId}`: 204; 404 for pet 0.
pub fn delete_pet(req: Request) -> Result<Response> {
    existing_pet_id(&req)?;
    Ok(Response::no_content())
}

fn existing_pet_id(req: &Request) -> Result<u64> {
    match req.param_as::<u64>("petId")? {
        0 => Err(Error::not_found("pet 0 not found")),
        id => Ok(id),
    }
}

/// Pet `id` (not 0): the catalogue entry it cycles onto, aged by its id.
fn pet(id: u64) -> Pet {
    let (name, tag) = CATALOGUE[(id.saturating_sub(1) % CATALOGUE.len() as u64) as usize];
    Pet {
        id,
        name: name.into(),
        tag: Some(tag.into()),
        age: Some(id % 20),
    }
}

/// A stable id in 1..=999_999 for a name (FNV-1a), so that the same pet
/// always gets the same id without any storage.
fn id_for(name: &str) -> u64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 999_999 + 1
}

#[cfg(test)]
mod tests;
