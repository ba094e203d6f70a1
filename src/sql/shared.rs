//! The planner's common subexpression pass: a subexpression that one expression computes more
//! than once is computed once a row, in an [`Expr::Let`] around the expression. The age band of
//! `dataflows/users.sql` computes `AGE(dob)` up to four times and `AGE(dob) / 10 * 10` twice;
//! after the pass, once each.
//!
//! Semantics and limits:
//! - The results are the same: every function is total (a value it cannot compute is NULL,
//!   [`super::expr`]), so computing a subexpression eagerly cannot fail where the expression
//!   would have skipped it. The cost can move: a subexpression repeated inside a `CASE`
//!   branch (or behind `AND`, `OR`, `COALESCE`) is computed for every row, taken or not.
//! - One expression at a time: a subexpression shared by two expressions of a view (its
//!   filter and a group key) is still computed once by each.
//! - Subexpressions are compared by their plan's text (`Debug`): `Expr` holds compiled regular
//!   expressions, which have no equality of their own, and the plans are small.

use std::collections::HashMap;

use super::expr::Expr;
use super::plan::{Table, View};

/// Shares the repeated subexpressions of every expression of a dataflow: the expectations and
/// each view's filter, group keys, aggregates' arguments, `HAVING` and outputs.
pub fn share_in_dataflow(table: &mut Table, views: &mut [View]) {
    for expectation in &mut table.expectations {
        share_repeated(&mut expectation.expr);
    }
    for view in views {
        view.exprs_mut().for_each(share_repeated);
    }
}

/// `expr`, with each subexpression it computes more than once computed once, first.
pub fn share_repeated(expr: &mut Expr) {
    // Planned once: a Let inside a Let would hide the outer values (`WithShared` holds one set).
    if matches!(expr, Expr::Let { .. }) {
        return;
    }
    let mut shared = Vec::new();
    // Innermost first: a repeated expression's own repeated parts are shared before it, so a
    // shared value reads only the values before it.
    while let Some((key, repeated)) = innermost_repeated(expr) {
        let index = shared.len();
        expr.visit_mut(&mut |e| {
            if format!("{e:?}") == key {
                *e = Expr::Shared(index);
            }
        });
        shared.push(repeated);
    }
    if !shared.is_empty() {
        let body = std::mem::replace(expr, Expr::Now);
        *expr = Expr::Let { shared, body: Box::new(body) };
    }
}

/// The first subexpression, children before parents, that occurs more than once and costs
/// more than reading it (not a column, a literal, `NOW()` or a shared value), with its text.
fn innermost_repeated(expr: &Expr) -> Option<(String, Expr)> {
    let mut order = Vec::new();
    post_order(expr, &mut order);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let keyed: Vec<(String, &Expr)> = order.into_iter().map(|e| (format!("{e:?}"), e)).collect();
    for (key, _) in &keyed {
        *counts.entry(key.clone()).or_default() += 1;
    }
    keyed.into_iter().find(|(key, _)| counts[key] > 1).map(|(key, e)| (key, e.clone()))
}

/// The subexpressions worth sharing, each after its children; whether `expr` may be shared
/// (no call of a function that is not [`super::expr::Func::is_pure`] in it).
fn post_order<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) -> bool {
    let mut pure = expr.children().into_iter().fold(true, |pure, child| post_order(child, out) && pure);
    if let Expr::Call(func, _) = expr {
        pure &= func.is_pure();
    }
    if pure && !matches!(expr, Expr::Column(_) | Expr::Literal(_) | Expr::Now | Expr::Shared(_)) {
        out.push(expr);
    }
    pure
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    use crate::sql::expr::Context;
    use crate::sql::{Datum, Program};

    fn age_band(program: &Program) -> &Expr {
        let view = program.views.iter().find(|v| v.name == "users_by_age_band").expect("users.sql has the age band");
        &view.group[0]
    }

    fn count(expr: &Expr, what: &dyn Fn(&Expr) -> bool) -> usize {
        usize::from(what(expr)) + expr.children().into_iter().map(|c| count(c, what)).sum::<usize>()
    }

    #[test]
    fn the_age_band_computes_age_once() {
        let program = crate::dataflow::Dataflow::users().program;
        let band = age_band(&program);
        let Expr::Let { shared, body } = band else { panic!("the age band is not shared: {band:?}") };
        let is_age = |e: &Expr| matches!(e, Expr::Call(crate::sql::expr::Func::Age, _));
        assert_eq!(count(band, &is_age), 1, "AGE(dob) once in {band:?}");
        // AGE(dob), then AGE(dob) / 10, then AGE(dob) / 10 * 10: each read, none computed twice.
        assert_eq!(shared.len(), 3, "{shared:?}");
        assert!(count(body, &|e| matches!(e, Expr::Shared(_))) >= 4);
    }

    #[test]
    fn shared_values_give_the_same_results() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dataflows/users.sql")).unwrap();
        let program = Program::parse(&text, "users.sql").unwrap();
        let band = age_band(&program);
        // Undo the pass: every Shared(i) replaced by its expression (visit_mut visits a replaced
        // node's children, so shared values inside shared values go too).
        let Expr::Let { shared, body } = band else { panic!("shared") };
        let mut plain = (**body).clone();
        plain.visit_mut(&mut |e| {
            if let Expr::Shared(i) = e {
                *e = shared[*i].clone();
            }
        });
        assert_eq!(count(&plain, &|e| matches!(e, Expr::Shared(_) | Expr::Let { .. })), 0);
        let dob = program.table.state_names().iter().position(|c| *c == "dob").unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let cx = Context { today, now: None };
        let width = program.table.state_columns.len();
        // The bands as users.sql defines them, computed here without the plan.
        let expected = |years: Option<i32>| match years {
            None => "unknown".to_string(),
            Some(y) if y < 20 => "<20".into(),
            Some(y) if y >= 70 => "70+".into(),
            Some(y) => format!("{}-{}", y / 10 * 10, y / 10 * 10 + 9),
        };
        for years in [None, Some(5), Some(19), Some(20), Some(29), Some(45), Some(69), Some(70), Some(99)] {
            let mut row = vec![Datum::Null; width];
            if let Some(years) = years {
                let born = today.with_year(today.year() - years).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
                row[dob] = Datum::Timestamp(born.timestamp_millis());
            }
            assert_eq!(band.eval(&row[..], &cx), Datum::text(&expected(years)), "{years:?} years old");
            assert_eq!(band.eval(&row[..], &cx), plain.eval(&row[..], &cx), "{years:?} years old");
        }
    }

    #[test]
    fn nothing_repeated_nothing_changed() {
        let program = crate::dataflow::Dataflow::users().program;
        let country = &program.views.iter().find(|v| v.name == "users_by_country").unwrap().group[0];
        assert!(matches!(country, Expr::Coalesce(_)), "{country:?}");
        for expectation in &program.table.expectations {
            assert!(!matches!(expectation.expr, Expr::Let { .. }), "{}: {:?}", expectation.name, expectation.expr);
        }
    }

    #[test]
    fn aggregates_having_and_outputs_are_shared_too() {
        let text = "CREATE TABLE users (id UUID PRIMARY KEY, first_name TEXT, country TEXT) WITH (connector = 'kafka', topic = 't');
            CREATE TABLE rows WITH (connector = 'jsonl') AS SELECT * FROM users;
            CREATE MATERIALIZED VIEW v AS SELECT country, SUM(LENGTH(TRIM(first_name)) * LENGTH(TRIM(first_name))) AS squares,
                COUNT(*) * 2 + COUNT(*) AS thrice
            FROM users GROUP BY country HAVING COUNT(*) * 2 > 0 OR COUNT(*) * 2 < 0;";
        let program = Program::parse(text, "t.sql").unwrap();
        let view = &program.views[0];
        let argument = view.state_exprs().into_iter().find(|e| matches!(e, Expr::Let { .. }));
        assert!(argument.is_some(), "SUM's argument shares LENGTH(TRIM(first_name)): {:?}", view.aggregates);
        assert!(matches!(view.having, Some(Expr::Let { .. })), "HAVING shares COUNT(*) * 2: {:?}", view.having);
        // The output `thrice` reads COUNT(*) twice, a column of the grouped row: nothing to share.
        assert!(!view.outputs.iter().any(|o| matches!(o.expr, Expr::Let { .. })), "{:?}", view.outputs);
        let cx = Context::today();
        let grouped = [Datum::text("NZ"), Datum::Int(3), Datum::Int(4)];
        assert_eq!(view.having.as_ref().unwrap().eval(&grouped[..], &cx), Datum::Bool(true));
    }

    #[test]
    fn a_value_inside_a_shared_value() {
        let text = "CREATE TABLE users (id UUID PRIMARY KEY, first_name TEXT, last_name TEXT) WITH (connector = 'kafka', topic = 't');
            CREATE TABLE rows WITH (connector = 'jsonl') AS SELECT * FROM users;
            CREATE MATERIALIZED VIEW v AS SELECT CONCAT(UPPER(TRIM(first_name)), LENGTH(UPPER(TRIM(first_name))), LENGTH(UPPER(TRIM(first_name)))) AS k, COUNT(*) AS n
            FROM users GROUP BY 1;";
        let program = Program::parse(text, "t.sql").unwrap();
        let key = &program.views[0].group[0];
        let Expr::Let { shared, .. } = key else { panic!("{key:?}") };
        // TRIM(first_name), UPPER(Shared 0), LENGTH(Shared 1): each reads the one before.
        assert_eq!(shared.len(), 3, "{shared:?}");
        assert!(matches!(&shared[1], Expr::Call(_, args) if matches!(args[0], Expr::Shared(0))), "{shared:?}");
        let first = program.table.state_names().iter().position(|c| *c == "first_name").unwrap();
        let mut row = vec![Datum::Null; program.table.state_columns.len()];
        row[first] = Datum::text(" ada ");
        let cx = Context::today();
        assert_eq!(key.eval(&row[..], &cx), Datum::text("ADA33"));
    }
}
