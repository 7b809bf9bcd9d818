use func_sdk::testing::call;
use func_sdk::{Request, Value, json};

use super::*;

fn error_of(resp: &Response) -> String {
    resp.body_json::<Value>().unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn list_pets_defaults_to_twenty_in_id_order() {
    let resp = call(list_pets, Request::builder("GET", "/petstore/pets").build());
    assert_eq!(resp.status(), 200);
    let pets: Vec<Pet> = resp.body_json().unwrap();
    assert_eq!(pets.len(), 20);
    assert_eq!(
        pets.iter().map(|p| p.id).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    assert_eq!(
        pets[0],
        Pet {
            id: 1,
            name: "Rex".into(),
            tag: Some("dog".into()),
            age: Some(1)
        }
    );
}

#[test]
fn list_pets_filters_by_tag_and_honours_limit() {
    let req = Request::builder("GET", "/petstore/pets")
        .query("limit", "3")
        .query("tag", "cat");
    let pets: Vec<Pet> = call(list_pets, req.build()).body_json().unwrap();
    assert_eq!(pets.iter().map(|p| p.id).collect::<Vec<_>>(), [2, 5, 8]);
    assert!(pets.iter().all(|p| p.tag.as_deref() == Some("cat")));
}

#[test]
fn list_pets_rejects_bad_limits_and_tags() {
    for (name, value, needle) in [
        ("limit", "0", "1..=100"),
        ("limit", "101", "1..=100"),
        ("limit", "ten", "`limit`"),
        ("tag", "fish", "`fish`"),
    ] {
        let resp = call(
            list_pets,
            Request::builder("GET", "/petstore/pets")
                .query(name, value)
                .build(),
        );
        assert_eq!(resp.status(), 400, "{name}={value}");
        assert!(error_of(&resp).contains(needle), "{}", error_of(&resp));
    }
}

#[test]
fn create_pet_echoes_the_pet_with_a_stable_id() {
    let new = json!({ "name": "Ada", "tag": "lizard", "age": 3 });
    let make = || {
        let req = Request::builder("POST", "/petstore/pets")
            .base_path("/petstore")
            .json_body(&new);
        call(create_pet, req.build())
    };
    let (first, second) = (make(), make());
    assert_eq!(first.status(), 201);
    let pet: Pet = first.body_json().unwrap();
    assert_eq!(
        (pet.name.as_str(), pet.tag.as_deref(), pet.age),
        ("Ada", Some("lizard"), Some(3))
    );
    assert!((1..=999_999).contains(&pet.id));
    assert_eq!(
        first.header_value("location"),
        Some(format!("/petstore/pets/{}", pet.id).as_str())
    );
    assert_eq!(first.body_bytes(), second.body_bytes());
    assert_ne!(id_for("Ada"), id_for("Bob"));
}

#[test]
fn create_pet_rejects_invalid_bodies() {
    for body in [
        json!({}),
        json!({ "name": "" }),
        json!({ "name": "Rex", "age": -1 }),
        json!([1]),
    ] {
        let req = Request::builder("POST", "/petstore/pets")
            .json_body(&body)
            .build();
        assert_eq!(call(create_pet, req).status(), 400, "{body}");
    }
}

#[test]
fn get_pet_is_deterministic_and_pet_zero_is_missing() {
    let get = |id: &str| {
        call(
            get_pet,
            Request::builder("GET", "/petstore/pets")
                .param("petId", id)
                .build(),
        )
    };
    let pet: Pet = get("8").body_json().unwrap();
    assert_eq!(
        pet,
        Pet {
            id: 8,
            name: "Tom".into(),
            tag: Some("cat".into()),
            age: Some(8)
        }
    );
    let missing = get("0");
    assert_eq!(missing.status(), 404);
    assert_eq!(error_of(&missing), "pet 0 not found");
    assert_eq!(get("-1").status(), 400);
}

#[test]
fn delete_pet_answers_204_without_a_body() {
    let delete = |id: &str| {
        call(
            delete_pet,
            Request::builder("DELETE", "/petstore/pets")
                .param("petId", id)
                .build(),
        )
    };
    let resp = delete("7");
    assert_eq!((resp.status(), resp.body_bytes().len()), (204, 0));
    assert_eq!(delete("0").status(), 404);
}
