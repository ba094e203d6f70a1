//! The record model against real captured responses (1.0, 1.2, 1.4) and hand-written
//! ones in the documented 1.1 and 1.3 shapes.

use std::collections::HashSet;

use rtds::model::{RecordError, ResponseError, User, parse_response};

use crate::util::{fixture, test_data};

fn format_all(text: &str) -> Vec<User> {
    let response = parse_response(text).expect("response parses");
    response.results.iter().map(|r| User::from_json(r.get()).unwrap_or_else(|e| panic!("{e}: {}", r.get()))).collect()
}

/// A row date as the row's JSON writes it.
fn date(date: &Option<rtds::model::date::Date>) -> Option<String> {
    date.as_ref().map(rtds::model::date::format)
}

fn assert_ids_unique(users: &[User]) {
    let ids: HashSet<_> = users.iter().map(|u| u.id).collect();
    assert_eq!(ids.len(), users.len(), "every record gets its own id");
}

#[test]
fn v1_4_fixture_formats_every_record() {
    let text = fixture("real-1.json");
    let response = parse_response(&text).unwrap();
    let info = response.info.clone().expect("1.4 capture has info");
    assert_eq!(info.version.as_deref(), Some("1.4"));
    assert_eq!(info.seed.as_deref(), Some("b92435b8050047da"));
    let users = format_all(&text);
    assert_eq!(users.len(), 111);
    assert_ids_unique(&users);

    let leon = &users[0];
    assert_eq!(leon.id.to_string(), "9a723211-0e87-41f1-b1e4-ed1a15226b80");
    assert_eq!(leon.first_name.as_deref(), Some("Leon"));
    assert_eq!(leon.last_name.as_deref(), Some("Nichols"));
    assert_eq!(leon.gender.as_deref(), Some("male"));
    assert_eq!(leon.address.as_deref(), Some("1614 E Sandy Lake Rd, Bendigo, Australian Capital Territory, Australia"));
    assert_eq!(leon.post_code.as_deref(), Some("2722"));
    assert_eq!(leon.email.as_deref(), Some("leon.nichols@example.com"));
    assert_eq!(leon.username.as_deref(), Some("tinyfish925"));
    assert_eq!(date(&leon.dob).as_deref(), Some("1992-03-18T17:36:00.197Z"));
    assert_eq!(leon.phone.as_deref(), Some("00-3113-7507"));
    assert_eq!(leon.picture.as_deref(), Some("https://randomuser.me/api/portraits/med/men/63.jpg"));
    assert_eq!(leon.country.as_deref(), Some("Australia"));
    assert_eq!(date(&leon.registered_date).as_deref(), Some("2004-04-28T15:02:18.841Z"));

    // Quirks: string postcodes stay as sent, NO postcodes made of digits stay strings,
    // integer postcodes become their decimal text.
    let by_id = |id: &str| users.iter().find(|u| u.id.to_string() == id).unwrap();
    assert_eq!(by_id("49c4bf41-020c-4490-b6a8-2993e945ac4d").post_code.as_deref(), Some("1659"));
    assert_eq!(by_id("aefeaee5-fbdc-47c9-826c-9a6711481214").post_code.as_deref(), Some("4278"));
    let canadian = users.iter().find(|u| u.country.as_deref() == Some("Canada")).unwrap();
    assert_eq!(canadian.post_code.as_deref(), Some("B6B 6V2"));
    // Persian names come through untouched; the email is ASCII from 1.3 on.
    let iranian = users.iter().find(|u| u.country.as_deref() == Some("Iran")).unwrap();
    assert_eq!(iranian.first_name.as_deref(), Some("یسنا"));
    assert_eq!(iranian.email.as_deref(), Some("ysn.khmrw@example.com"));
    assert!(iranian.address.as_deref().unwrap().starts_with("8930 هویزه, خوی"));
    // Every record of 1.4 carries every field.
    for user in &users {
        for (name, value) in [
            ("first_name", &user.first_name.as_deref().map(str::to_string)),
            ("address", &user.address.as_deref().map(str::to_string)),
            ("post_code", &user.post_code.as_deref().map(str::to_string)),
            ("dob", &date(&user.dob)),
            ("registered_date", &date(&user.registered_date)),
            ("phone", &user.phone.as_deref().map(str::to_string)),
            ("picture", &user.picture.as_deref().map(str::to_string)),
        ] {
            assert!(value.is_some(), "{name} missing for {}", user.id);
        }
    }
}

#[test]
fn v1_2_bare_array_with_street_strings_and_no_country() {
    let users = format_all(&fixture("real-3.json"));
    assert_eq!(users.len(), 100);
    assert_ids_unique(&users);
    let aatu = &users[0];
    assert_eq!(aatu.id.to_string(), "0c06079d-251b-46fa-80d5-86d52a897bef");
    assert_eq!(aatu.address.as_deref(), Some("4049 aleksanterinkatu, marttila, päijät-häme"));
    assert_eq!(aatu.post_code.as_deref(), Some("87928"));
    assert_eq!(date(&aatu.dob).as_deref(), Some("1967-03-02T10:54:16Z"));
    assert_eq!(date(&aatu.registered_date).as_deref(), Some("2016-01-04T04:24:08Z"));
    assert_eq!(aatu.phone.as_deref(), Some("03-655-479"));
    assert_eq!(aatu.country, None, "1.2 has no country: null, not invented");
    // Non-ASCII emails are kept as sent before 1.3.
    assert_eq!(users[4].email.as_deref(), Some("afşar.ağaoğlu@example.com"));
    assert_eq!(users[5].email.as_deref(), Some("علیرضا.سلطانینژاد@example.com"));
    assert_eq!(users[5].last_name.as_deref(), Some("سلطانی نژاد"));
    assert_eq!(users[8].post_code.as_deref(), Some("Z0A 8T4"));
    assert_eq!(users[16].post_code.as_deref(), Some("3285"));
}

#[test]
fn v1_0_unix_seconds_and_derived_ids() {
    let text = fixture("real-4.json");
    let users = format_all(&text);
    assert_eq!(users.len(), 20);
    assert_ids_unique(&users);
    let daniel = &users[0];
    assert_eq!(date(&daniel.dob).as_deref(), Some("2015-05-01T16:44:08Z"));
    assert_eq!(date(&daniel.registered_date).as_deref(), Some("1999-12-30T05:35:56Z"));
    assert_eq!(daniel.address.as_deref(), Some("7283 coastal highway, greenwood, nunavut"));
    assert_eq!(daniel.post_code.as_deref(), Some("61421"));
    assert_eq!(daniel.username.as_deref(), Some("blackkoala996"));
    assert_eq!(daniel.picture.as_deref(), Some("https://randomuser.me/api/portraits/med/men/12.jpg"));
    assert_eq!(users[4].post_code.as_deref(), Some("VG9N 9ET"));
    // No login.uuid before 1.2: a UUIDv5, the same every time the record is read.
    assert_eq!(daniel.id.get_version_num(), 5);
    assert_eq!(format_all(&text)[0].id, daniel.id);
    assert_eq!(users[1].last_name.as_deref(), Some("lévesque"));
}

#[test]
fn v1_1_date_strings_become_iso_8601() {
    let text = test_data("v1_1.json");
    assert_eq!(parse_response(&text).unwrap().info.unwrap().version.as_deref(), Some("1.1"));
    let users = format_all(&text);
    assert_eq!(users.len(), 2);
    let sofia = &users[0];
    assert_eq!(date(&sofia.dob).as_deref(), Some("1983-07-14T07:29:45Z"));
    assert_eq!(date(&sofia.registered_date).as_deref(), Some("2010-09-24T02:10:42Z"));
    assert_eq!(sofia.address.as_deref(), Some("7405 hämeenkatu, kotka, uusimaa"));
    assert_eq!(sofia.email.as_deref(), Some("sofia.kärnä@example.com"));
    assert_eq!(sofia.id.get_version_num(), 5);
    assert_eq!(users[1].post_code.as_deref(), Some("T3B 4X7"));
    assert_ne!(users[0].id, users[1].id);
}

#[test]
fn v1_3_street_objects_and_buggy_ids() {
    let users = format_all(&test_data("v1_3.json"));
    let leonie = &users[0];
    assert_eq!(leonie.id.to_string(), "3b6e8f2a-64c1-4c0e-9a55-2d1f0c7a9e41");
    assert_eq!(leonie.address.as_deref(), Some("3316 Rue de L'Abbé-Migne, Nanterre, Seine-Saint-Denis, France"));
    assert_eq!(date(&leonie.dob).as_deref(), Some("1976-05-21T11:42:03.614Z"));
    assert_eq!(leonie.first_name.as_deref(), Some("Léonie"));
    assert_eq!(users[1].post_code.as_deref(), Some("64289"));
    assert_eq!(users[1].country.as_deref(), Some("Germany"));
}

#[test]
fn records_cut_by_inc_keep_absent_fields_null() {
    let users = format_all(r#"{"results":[{"name":{"first":"Ana","last":"Lima"},"login":{"uuid":"8d5b2f8e-27b4-4f43-a7b1-3e0e1f6c9a10"}}],"info":{"seed":"x","results":1,"page":1,"version":"1.4"}}"#);
    let ana = &users[0];
    assert_eq!(ana.first_name.as_deref(), Some("Ana"));
    assert_eq!((ana.email.clone(), ana.address.clone(), date(&ana.dob), ana.post_code.clone()), (None, None, None, None));
    let row = serde_json::to_value(ana).unwrap();
    let keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
    for key in ["id", "first_name", "last_name", "gender", "address", "post_code", "email", "username", "dob", "registered_date", "phone", "picture"] {
        assert!(keys.contains(&key), "row has {key}");
    }
    assert!(row["email"].is_null());
    // Without login.uuid, a record cut down to its name still gets a stable id.
    let a = User::from_json(r#"{"name":{"first":"Ana","last":"Lima"}}"#).unwrap();
    let b = User::from_json(r#"{"name":{"first":"Ana","last":"Lima"},"nat":"BR"}"#).unwrap();
    assert_eq!(a.id, b.id);
}

#[test]
fn the_api_error_object_is_an_error_not_zero_users() {
    let err = parse_response(r#"{"error":"Uh oh, something has gone wrong. Please tell us on GitHub or Twitter!"}"#).unwrap_err();
    assert!(matches!(err, ResponseError::Api(ref m) if m.starts_with("Uh oh")), "{err}");
    assert!(matches!(parse_response("<html>502</html>"), Err(ResponseError::Malformed(_))));
    assert!(matches!(parse_response(r#"{"info":{}}"#), Err(ResponseError::Malformed(m)) if m.contains("results")));
    assert!(matches!(parse_response(""), Err(ResponseError::Malformed(_))));
}

#[test]
fn bad_records_name_the_field_at_fault() {
    let err = User::from_json(r#"{"name":{"first":5,"last":"x"}}"#).unwrap_err();
    assert!(err.to_string().contains("name.first"), "{err}");
    let err = User::from_json(r#"{"email":"a@b.c","location":{"postcode":[1]}}"#).unwrap_err();
    assert!(err.to_string().contains("location.postcode"), "{err}");
    let err = User::from_json(r#"{"email":"a@b.c","login":{"uuid":"not-a-uuid"}}"#).unwrap_err();
    assert!(matches!(err, RecordError::InvalidField { field: "login.uuid", .. }), "{err}");
    assert_eq!(User::from_json(r#"{"gender":"male","nat":"US"}"#).unwrap_err(), RecordError::NoIdentity);
    assert!(matches!(User::from_json(r#"{"name": "#), Err(RecordError::Malformed(_))));
}

/// A response's info and each record's text with its formatted row or error.
type TwoSteps = Result<(Option<rtds::model::Info>, Vec<(String, Result<User, RecordError>)>), ResponseError>;

/// The two-step answer: `parse_response`, then `User::from_json` of each record.
fn two_steps(text: &str) -> TwoSteps {
    let response = parse_response(text)?;
    Ok((response.info, response.results.iter().map(|r| (r.get().to_string(), User::from_json(r.get()))).collect()))
}

#[test]
fn format_response_answers_exactly_like_parse_response_then_from_json() {
    let generated = {
        let users = rtds::api::generator::Generator::new()
            .page(&rtds::api::generator::Request { seed: "one-pass".into(), results: 50, ..Default::default() });
        format!(r#"{{"results":{},"info":{{"seed":"one-pass","results":50,"page":1,"version":"1.4"}}}}"#, serde_json::to_string(&users).unwrap())
    };
    let inputs = [
        fixture("real-1.json"),
        fixture("real-3.json"),
        fixture("real-4.json"),
        test_data("v1_1.json"),
        test_data("v1_3.json"),
        generated,
        r#"[]"#.into(),
        r#" [ ] "#.into(),
        r#"{"results":[]}"#.into(),
        r#"{"info":{"version":"1.4"},"results":[{"email":"a@b.co"} , {"name":7},5,"x",[1],{"gender":"f"}]}"#.into(),
        r#"{"results":[{"email":"a\"b@c.d","name":{"first":"\u00e9"}}],"extra":[1,{"a":null}],"info":null}"#.into(),
        r#"{"results":[{"login":{"uuid":"not-a-uuid"}},{"dob":{"age":3}},{}]}"#.into(),
        r#"{"error":"Uh oh, something has gone wrong."}"#.into(),
        r#"{"error":null,"results":[{"email":"a@b.co"}]}"#.into(),
        r#"{"results":[{"email":"a@b.co"}],"results":[]}"#.into(),
        r#"{"results":[{"email":"a@b.co"}],"info":{},"info":{}}"#.into(),
        r#"{"r\u0065sults":[{"email":"a@b.co"}]}"#.into(),
        r#"{"results":null}"#.into(),
        r#"{"results":[{"email":"a@b.co"},]}"#.into(),
        r#"{"results":[{"email":"a@b.co"} {"email":"c@d.ef"}]}"#.into(),
        r#"{"results":[{"email":"a@b.co"}]} x"#.into(),
        r#"{"results":[{"email":"a@b.co"}],}"#.into(),
        r#"{"results":[{"email":tru}]}"#.into(),
        r#"{"results":[{"email":"a@b.co"}"#.into(),
        r#"{}"#.into(),
        r#""#.into(),
        "\u{feff}[]".into(),
        r#"<html>502</html>"#.into(),
    ];
    for text in &inputs {
        let one_pass = rtds::model::format_response(text)
            .map(|r| (r.info, r.records.into_iter().map(|(raw, user)| (raw.to_string(), user)).collect::<Vec<_>>()));
        assert_eq!(one_pass, two_steps(text), "{text}");
    }
}

#[test]
fn write_json_writes_what_serde_json_writes() {
    let mut texts = vec![fixture("real-1.json"), fixture("real-3.json"), fixture("real-4.json"), test_data("v1_3.json")];
    texts.push(r#"[{"name":{"first":"A \"quoted\" \\ name\n","last":"\u0007"},"email":"é@x.y","login":{"username":"u"}}]"#.into());
    for text in &texts {
        for record in parse_response(text).unwrap().results {
            let user = User::from_json(record.get()).unwrap();
            let mut out = Vec::new();
            user.write_json(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&user).unwrap());
        }
    }
}
