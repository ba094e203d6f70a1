//! Scalar expressions: what a view's column, a filter, a group key or an expectation computes
//! from one row. The front (`front.rs`) builds them with their types checked; here they are
//! only evaluated.
//!
//! Semantics and limits:
//! - SQL's three-valued logic: an operator on NULL gives NULL, `AND`/`OR` as SQL defines them,
//!   a filter or an expectation passes unless its expression is FALSE.
//! - A value that cannot be computed (a division by zero, an integer overflow, a `CAST` of text
//!   that is no number) is NULL, as Spark computes with ANSI mode off, rather than an error
//!   that would stop a stream for one odd row.
//! - Regular expressions (`~`, `REGEXP_LIKE`, `REGEXP_SUBSTR`) are the `regex` crate's syntax,
//!   PostgreSQL's for everything common (classes, repetition, anchors; no backreferences).
//! - `AGE(ts)` is whole years from `ts` to the run's day (the day the process started), the one
//!   function whose value depends on when it runs; `NOW()` is the record's commit time and
//!   exists only in expectations.
//! - Every function is total (a value it cannot compute is NULL), so computing a subexpression
//!   that a `CASE` would have skipped changes nothing but the cost: the planner's common
//!   subexpression pass ([`super::shared`]) relies on it to compute a repeated one once a row.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use regex::Regex;

use super::types::{Datum, Type};

/// What an expression may read besides its row.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The day `AGE` counts to.
    pub today: NaiveDate,
    /// The record's commit time in UTC milliseconds, what `NOW()` is (expectations only).
    pub now: Option<i64>,
}

impl Context {
    /// A context for today, with no commit time.
    pub fn today() -> Context {
        Context { today: crate::clock::now().date_naive(), now: None }
    }
}

/// A row an expression reads columns of, by index.
pub trait Columns {
    fn column(&self, index: usize) -> Cow<'_, Datum>;

    /// Value `index` of the innermost [`Expr::Let`] being evaluated; rows have none (the
    /// planner puts every [`Expr::Shared`] inside its `Let`).
    fn shared(&self, index: usize) -> Cow<'_, Datum> {
        unreachable!("Expr::Shared({index}) outside its Expr::Let")
    }
}

/// A row with the values of a [`Expr::Let`]. The row is read through a closure, not a type
/// parameter: a `Let` inside a `Let` then evaluates over the same type, where a generic
/// wrapper would nest without end at compile time.
struct WithShared<'a, 'r> {
    row: &'a dyn Fn(usize) -> Cow<'r, Datum>,
    values: Args,
}

impl Columns for WithShared<'_, '_> {
    fn column(&self, index: usize) -> Cow<'_, Datum> {
        (self.row)(index)
    }

    fn shared(&self, index: usize) -> Cow<'_, Datum> {
        Cow::Borrowed(&self.values[index])
    }
}

impl Columns for [Datum] {
    fn column(&self, index: usize) -> Cow<'_, Datum> {
        Cow::Borrowed(&self[index])
    }
}

impl Columns for super::types::Row {
    fn column(&self, index: usize) -> Cow<'_, Datum> {
        Cow::Borrowed(&self[index])
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// Arithmetic operators, and text concatenation (`||`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
}

/// A part of a timestamp (`EXTRACT`) or a unit to truncate to (`DATE_TRUNC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    /// Day of the week, Sunday 0 (EXTRACT only).
    DayOfWeek,
    /// Day of the year, from 1 (EXTRACT only).
    DayOfYear,
    /// Seconds since 1970 (EXTRACT only).
    Epoch,
}

/// Which side `TRIM` trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// A function of scalar values.
#[derive(Debug, Clone)]
pub enum Func {
    Lower,
    Upper,
    /// Characters to trim (spaces when none).
    Trim(TrimSide, Option<String>),
    /// Characters, not bytes.
    Length,
    /// Its arguments as text, NULLs skipped (as PostgreSQL's `CONCAT`).
    Concat,
    /// `SUBSTRING(s FROM start [FOR count])`, 1-based, in characters.
    Substring,
    /// `SPLIT_PART(s, delimiter, n)`, n from 1.
    SplitPart,
    /// The first match of the pattern, or NULL.
    RegexpSubstr(Regex),
    Extract(TimeUnit),
    DateTrunc(TimeUnit),
    /// Whole years from a timestamp to the run's day.
    Age,
    Abs,
    /// `ROUND(x)` or `ROUND(x, digits)`.
    Round,
    /// `NULLIF(a, b)`.
    NullIf,
    /// The start of the tumbling window of this many milliseconds a timestamp falls in
    /// (`window_start` of `TUMBLE`); windows are aligned to 1970-01-01 UTC.
    WindowStart(i64),
    /// Its end, exclusive (`window_end`).
    WindowEnd(i64),
}

impl Func {
    /// Whether it gives the same value for the same arguments and context and never fails, so
    /// that a repeated call may be computed once ([`super::shared`]). Every function so far is;
    /// the match has no wildcard, so a new function (a `RANDOM()`) must say.
    pub fn is_pure(&self) -> bool {
        match self {
            Func::Lower | Func::Upper | Func::Trim(..) | Func::Length | Func::Concat | Func::Substring | Func::SplitPart => true,
            Func::RegexpSubstr(_) | Func::Extract(_) | Func::DateTrunc(_) | Func::Age | Func::Abs | Func::Round | Func::NullIf => true,
            Func::WindowStart(_) | Func::WindowEnd(_) => true,
        }
    }
}

/// A typed, checked scalar expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Column(usize),
    Literal(Datum),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    /// `IS NULL`, or `IS NOT NULL` when the flag is set.
    IsNull(Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Compare, Box<Expr>, Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    /// Searched `CASE`: the first true condition's result, else `otherwise`.
    Case { whens: Vec<(Expr, Expr)>, otherwise: Box<Expr> },
    Coalesce(Vec<Expr>),
    In { expr: Box<Expr>, list: Vec<Expr>, negated: bool },
    /// `LIKE`, `ILIKE`, `~` and `REGEXP_LIKE`, compiled to one regular expression.
    Matches { expr: Box<Expr>, regex: Regex, negated: bool },
    Call(Func, Vec<Expr>),
    Cast(Box<Expr>, Type),
    /// The record's commit time.
    Now,
    /// `body` with `shared` computed first, once, in order: `Shared(i)` in the body (or in a
    /// later shared value) reads value `i`. Made by the planner, never written in SQL.
    Let { shared: Vec<Expr>, body: Box<Expr> },
    /// A value of the enclosing `Let`.
    Shared(usize),
}

impl Expr {
    /// The expression's value over one row.
    pub fn eval<R: Columns + ?Sized>(&self, row: &R, cx: &Context) -> Datum {
        match self {
            Expr::Column(index) => row.column(*index).into_owned(),
            Expr::Literal(datum) => datum.clone(),
            Expr::Not(e) => match e.eval(row, cx) {
                Datum::Bool(b) => Datum::Bool(!b),
                _ => Datum::Null,
            },
            Expr::Negate(e) => match e.eval(row, cx) {
                Datum::Int(i) => i.checked_neg().map_or(Datum::Null, Datum::Int),
                Datum::Float(f) => Datum::float(-f.get()),
                Datum::Interval(i) => i.checked_neg().map_or(Datum::Null, Datum::Interval),
                _ => Datum::Null,
            },
            Expr::IsNull(e, negated) => Datum::Bool(e.eval_ref(row, cx).is_null() != *negated),
            Expr::And(a, b) => match a.eval(row, cx) {
                Datum::Bool(false) => Datum::Bool(false),
                left => match (left, b.eval(row, cx)) {
                    (_, Datum::Bool(false)) => Datum::Bool(false),
                    (Datum::Bool(true), Datum::Bool(true)) => Datum::Bool(true),
                    _ => Datum::Null,
                },
            },
            Expr::Or(a, b) => match a.eval(row, cx) {
                Datum::Bool(true) => Datum::Bool(true),
                left => match (left, b.eval(row, cx)) {
                    (_, Datum::Bool(true)) => Datum::Bool(true),
                    (Datum::Bool(false), Datum::Bool(false)) => Datum::Bool(false),
                    _ => Datum::Null,
                },
            },
            Expr::Compare(op, a, b) => {
                let (a, b) = (a.eval_ref(row, cx), b.eval_ref(row, cx));
                if a.is_null() || b.is_null() {
                    return Datum::Null;
                }
                let order = a.cmp(&b);
                Datum::Bool(match op {
                    Compare::Eq => order.is_eq(),
                    Compare::NotEq => order.is_ne(),
                    Compare::Lt => order.is_lt(),
                    Compare::LtEq => order.is_le(),
                    Compare::Gt => order.is_gt(),
                    Compare::GtEq => order.is_ge(),
                })
            }
            Expr::Arith(op, a, b) => arith(*op, a.eval(row, cx), b.eval(row, cx)),
            Expr::Case { whens, otherwise } => {
                for (condition, result) in whens {
                    if condition.eval(row, cx) == Datum::Bool(true) {
                        return result.eval(row, cx);
                    }
                }
                otherwise.eval(row, cx)
            }
            Expr::Coalesce(exprs) => exprs.iter().map(|e| e.eval(row, cx)).find(|d| !d.is_null()).unwrap_or(Datum::Null),
            Expr::In { expr, list, negated } => {
                let value = expr.eval(row, cx);
                if value.is_null() {
                    return Datum::Null;
                }
                let mut saw_null = false;
                for item in list {
                    match item.eval(row, cx) {
                        Datum::Null => saw_null = true,
                        item if item == value => return Datum::Bool(!negated),
                        _ => {}
                    }
                }
                if saw_null { Datum::Null } else { Datum::Bool(*negated) }
            }
            Expr::Matches { expr, regex, negated } => match &*expr.eval_ref(row, cx) {
                Datum::Text(text) => Datum::Bool(regex.is_match(text.as_str()) != *negated),
                _ => Datum::Null,
            },
            Expr::Call(func, args) => {
                // On the stack: a call is evaluated per row, and most take one to three arguments.
                let values: Args = args.iter().map(|a| a.eval(row, cx)).collect();
                call(func, values, cx)
            }
            Expr::Cast(e, to) => cast(e.eval(row, cx), *to),
            Expr::Now => cx.now.map_or(Datum::Null, Datum::Timestamp),
            Expr::Let { shared, body } => {
                let column = |index: usize| row.column(index);
                let mut with = WithShared { row: &column, values: Args::new() };
                for value in shared {
                    let value = value.eval(&with, cx);
                    with.values.push(value);
                }
                body.eval(&with, cx)
            }
            Expr::Shared(index) => row.shared(*index).into_owned(),
        }
    }

    /// The value, borrowed from the row or the plan when it is a column or a literal (no text
    /// is copied to be compared or matched).
    pub fn eval_ref<'a, R: Columns + ?Sized>(&'a self, row: &'a R, cx: &Context) -> Cow<'a, Datum> {
        match self {
            Expr::Column(index) => row.column(*index),
            Expr::Shared(index) => row.shared(*index),
            Expr::Literal(datum) => Cow::Borrowed(datum),
            // The first value that is not NULL, borrowed when it can be.
            Expr::Coalesce(exprs) => exprs.iter().map(|e| e.eval_ref(row, cx)).find(|d| !d.is_null()).unwrap_or(Cow::Owned(Datum::Null)),
            // A text with nothing to trim is the text itself (what a presence check sees).
            Expr::Call(Func::Trim(side, chars), args) => {
                let value = args[0].eval_ref(row, cx);
                let Datum::Text(text) = &*value else { return Cow::Owned(self.eval(row, cx)) };
                let trimmed = trim(text, *side, chars.as_deref());
                if trimmed.len() == text.len() { value } else { Cow::Owned(Datum::text(trimmed)) }
            }
            other => Cow::Owned(other.eval(row, cx)),
        }
    }

    /// True unless the expression is FALSE: how `WHERE` keeps a row and how an expectation
    /// passes (NULL passes an expectation, as it passes a `CHECK` constraint).
    pub fn passes_check<R: Columns + ?Sized>(&self, row: &R, cx: &Context) -> bool {
        self.eval(row, cx) != Datum::Bool(false)
    }

    /// True only when the expression is TRUE: how `WHERE` and `HAVING` keep a row.
    pub fn is_true<R: Columns + ?Sized>(&self, row: &R, cx: &Context) -> bool {
        self.eval(row, cx) == Datum::Bool(true)
    }

    /// Every column index the expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        self.visit(&mut |e| {
            if let Expr::Column(i) = e {
                out.push(*i)
            }
        });
    }

    /// Rewrites every column index.
    pub fn remap(&mut self, map: &impl Fn(usize) -> usize) {
        self.visit_mut(&mut |e| {
            if let Expr::Column(i) = e {
                *i = map(*i)
            }
        });
    }

    /// The expressions it is computed from.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(_) | Expr::Literal(_) | Expr::Now | Expr::Shared(_) => vec![],
            Expr::Not(e) | Expr::Negate(e) | Expr::IsNull(e, _) | Expr::Cast(e, _) | Expr::Matches { expr: e, .. } => vec![e],
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(_, a, b) | Expr::Arith(_, a, b) => vec![a, b],
            Expr::Case { whens, otherwise } => whens.iter().flat_map(|(c, r)| [c, r]).chain([&**otherwise]).collect(),
            Expr::Coalesce(list) | Expr::Call(_, list) => list.iter().collect(),
            Expr::In { expr, list, .. } => [&**expr].into_iter().chain(list).collect(),
            Expr::Let { shared, body } => shared.iter().chain([&**body]).collect(),
        }
    }

    fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        for child in self.children() {
            child.visit(f);
        }
    }

    /// Calls `f` on the expression, then on each of its children's, recursively (`f` may
    /// replace an expression; the new one's children are visited).
    pub fn visit_mut(&mut self, f: &mut impl FnMut(&mut Expr)) {
        f(self);
        match self {
            Expr::Column(_) | Expr::Literal(_) | Expr::Now | Expr::Shared(_) => {}
            Expr::Not(e) | Expr::Negate(e) | Expr::IsNull(e, _) | Expr::Cast(e, _) | Expr::Matches { expr: e, .. } => e.visit_mut(f),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Compare(_, a, b) | Expr::Arith(_, a, b) => {
                a.visit_mut(f);
                b.visit_mut(f);
            }
            Expr::Case { whens, otherwise } => {
                for (c, r) in whens {
                    c.visit_mut(f);
                    r.visit_mut(f);
                }
                otherwise.visit_mut(f);
            }
            Expr::Coalesce(list) | Expr::Call(_, list) => list.iter_mut().for_each(|e| e.visit_mut(f)),
            Expr::In { expr, list, .. } => {
                expr.visit_mut(f);
                list.iter_mut().for_each(|e| e.visit_mut(f));
            }
            Expr::Let { shared, body } => {
                shared.iter_mut().for_each(|e| e.visit_mut(f));
                body.visit_mut(f);
            }
        }
    }
}

fn arith(op: Arith, a: Datum, b: Datum) -> Datum {
    use Datum::*;
    match (op, a, b) {
        (_, Null, _) | (_, _, Null) => Null,
        (Arith::Concat, a, b) => Datum::text(&format!("{a}{b}")),
        (op, Int(a), Int(b)) => match op {
            Arith::Add => a.checked_add(b),
            Arith::Sub => a.checked_sub(b),
            Arith::Mul => a.checked_mul(b),
            Arith::Div => a.checked_div(b),
            Arith::Mod => a.checked_rem(b),
            Arith::Concat => unreachable!("handled above"),
        }
        .map_or(Null, Int),
        (op, Float(a), Float(b)) => {
            let (a, b) = (a.get(), b.get());
            match op {
                Arith::Add => Datum::float(a + b),
                Arith::Sub => Datum::float(a - b),
                Arith::Mul => Datum::float(a * b),
                Arith::Div if b != 0.0 => Datum::float(a / b),
                Arith::Mod if b != 0.0 => Datum::float(a % b),
                _ => Null,
            }
        }
        (Arith::Add, Timestamp(t), Interval(i)) | (Arith::Add, Interval(i), Timestamp(t)) => t.checked_add(i).map_or(Null, Timestamp),
        (Arith::Sub, Timestamp(t), Interval(i)) => t.checked_sub(i).map_or(Null, Timestamp),
        (Arith::Sub, Timestamp(a), Timestamp(b)) => a.checked_sub(b).map_or(Null, Interval),
        (Arith::Add, Interval(a), Interval(b)) => a.checked_add(b).map_or(Null, Interval),
        (Arith::Sub, Interval(a), Interval(b)) => a.checked_sub(b).map_or(Null, Interval),
        _ => Null,
    }
}

/// `CAST(value AS to)`; NULL when the value has no such form.
pub fn cast(value: Datum, to: Type) -> Datum {
    use Datum::*;
    match (value, to) {
        (Null, _) => Null,
        (Int(i), Type::Float) => Datum::float(i as f64),
        (Float(f), Type::Int) => {
            let rounded = f.get().round();
            if rounded >= i64::MIN as f64 && rounded < i64::MAX as f64 { Int(rounded as i64) } else { Null }
        }
        (Bool(b), Type::Int) => Int(b as i64),
        (Text(s), Type::Int) => s.trim().parse().map_or(Null, Int),
        (Text(s), Type::Float) => s.trim().parse().map_or(Null, Datum::float),
        (Text(s), Type::Bool) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Bool(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Bool(false),
            _ => Null,
        },
        (Text(s), Type::Timestamp) => parse_timestamp(&s).map_or(Null, Timestamp),
        (Text(s), Type::Uuid) => uuid::Uuid::parse_str(s.trim()).map_or(Null, Uuid),
        (value, Type::Text) => Datum::text(&value.to_string()),
        (value, to) if datum_type(&value) == Some(to) => value,
        _ => Null,
    }
}

/// The type of a non-null datum.
pub fn datum_type(value: &Datum) -> Option<Type> {
    Some(match value {
        Datum::Null => return None,
        Datum::Bool(_) => Type::Bool,
        Datum::Int(_) => Type::Int,
        Datum::Float(_) => Type::Float,
        Datum::Text(_) => Type::Text,
        Datum::Timestamp(_) => Type::Timestamp,
        Datum::Uuid(_) => Type::Uuid,
        Datum::Interval(_) => Type::Interval,
    })
}

/// A timestamp literal: RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS[.fff]]]` read as UTC.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(t) = crate::model::date::parse(text) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
}

/// A call's argument values.
type Args = smallvec::SmallVec<[Datum; 4]>;

/// A datum as text, borrowed when it is text already.
fn text(d: &Datum) -> Cow<'_, str> {
    match d {
        Datum::Text(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    }
}

/// `value` with the characters of `chars` (a space when none) cut from `side`.
fn trim<'a>(value: &'a str, side: TrimSide, chars: Option<&str>) -> &'a str {
    let set = chars.unwrap_or(" ");
    let is_trimmed = |c: char| set.contains(c);
    match side {
        TrimSide::Both => value.trim_matches(is_trimmed),
        TrimSide::Leading => value.trim_start_matches(is_trimmed),
        TrimSide::Trailing => value.trim_end_matches(is_trimmed),
    }
}

fn call(func: &Func, mut args: Args, cx: &Context) -> Datum {
    use Datum::*;
    // CONCAT skips NULLs; every other function is NULL on a NULL argument.
    if !matches!(func, Func::Concat | Func::NullIf) && args.iter().any(Datum::is_null) {
        return Null;
    }
    match func {
        Func::Lower => Datum::text(&text(&args[0]).to_lowercase()),
        Func::Upper => Datum::text(&text(&args[0]).to_uppercase()),
        Func::Trim(side, chars) => Datum::text(trim(&text(&args[0]), *side, chars.as_deref())),
        Func::Length => Int(text(&args[0]).chars().count() as i64),
        Func::Concat => {
            // Each argument written straight into the result (no text per number).
            use std::fmt::Write;
            let mut out = compact_str::CompactString::default();
            for arg in args.iter().filter(|d| !d.is_null()) {
                match arg {
                    Text(t) => out.push_str(t),
                    // itoa rather than fmt: an age band's CONCAT writes two numbers per row.
                    Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
                    other => write!(out, "{other}").expect("writing to a string"),
                }
            }
            Text(out)
        }
        Func::Substring => {
            let value = text(&args[0]);
            let Int(start) = args[1] else { return Null };
            let count = match args.get(2) {
                Some(Int(count)) if *count < 0 => return Null,
                Some(Int(count)) => Some(*count),
                _ => None,
            };
            // Positions count from 1; the range [start, start + count) is cut to the text
            // (PostgreSQL's rule: a start before 1 eats into the count).
            let lo = start.max(1);
            let taken: String = match count.map(|c| start.saturating_add(c)) {
                Some(hi) if hi <= lo => String::new(),
                Some(hi) => value.chars().skip(lo as usize - 1).take((hi - lo) as usize).collect(),
                None => value.chars().skip(lo as usize - 1).collect(),
            };
            Datum::text(&taken)
        }
        Func::SplitPart => {
            let (value, delimiter) = (text(&args[0]), text(&args[1]));
            let Int(n) = args[2] else { return Null };
            if n == 0 {
                return Null;
            }
            if n > 0 && !delimiter.is_empty() {
                return Datum::text(value.split(&*delimiter).nth(n as usize - 1).unwrap_or(""));
            }
            let parts: Vec<&str> = if delimiter.is_empty() { vec![&*value] } else { value.split(&*delimiter).collect() };
            let index = if n > 0 { n as usize - 1 } else { parts.len().wrapping_sub(n.unsigned_abs() as usize) };
            Datum::text(parts.get(index).copied().unwrap_or(""))
        }
        Func::RegexpSubstr(regex) => regex.find(&text(&args[0])).map_or(Null, |m| Datum::text(m.as_str())),
        Func::Extract(unit) => {
            let Some(t) = args[0].as_datetime() else { return Null };
            extract(*unit, t)
        }
        Func::DateTrunc(unit) => {
            let Some(t) = args[1].as_datetime() else { return Null };
            truncate(*unit, t).map_or(Null, |t| Timestamp(t.timestamp_millis()))
        }
        Func::Age => {
            let Some(t) = args[0].as_datetime() else { return Null };
            Int(cx.today.years_since(t.date_naive()).map_or(0, i64::from))
        }
        Func::WindowStart(size) | Func::WindowEnd(size) => match args[0] {
            Timestamp(t) => {
                let start = t - t.rem_euclid(*size);
                if matches!(func, Func::WindowStart(_)) { Timestamp(start) } else { start.checked_add(*size).map_or(Null, Timestamp) }
            }
            _ => Null,
        },
        Func::Abs => match args[0] {
            Int(i) => i.checked_abs().map_or(Null, Int),
            Float(f) => Datum::float(f.get().abs()),
            _ => Null,
        },
        Func::Round => {
            let digits = match args.get(1) {
                Some(Int(d)) => (*d).clamp(-18, 18) as i32,
                _ => 0,
            };
            match args[0] {
                // Negative digits round to tens, hundreds, ... as PostgreSQL does.
                Int(i) if digits < 0 => {
                    let scale = 10i64.checked_pow(digits.unsigned_abs()).unwrap_or(i64::MAX);
                    let rounded = (i as f64 / scale as f64).round() * scale as f64;
                    if rounded.abs() < i64::MAX as f64 { Int(rounded as i64) } else { Null }
                }
                Int(i) => Int(i),
                Float(f) => {
                    let scale = 10f64.powi(digits);
                    Datum::float((f.get() * scale).round() / scale)
                }
                _ => Null,
            }
        }
        Func::NullIf => {
            let b = args.pop().unwrap_or(Null);
            let a = args.pop().unwrap_or(Null);
            if !a.is_null() && a == b { Null } else { a }
        }
    }
}

fn extract(unit: TimeUnit, t: DateTime<Utc>) -> Datum {
    let int = |v: i64| Datum::Int(v);
    match unit {
        TimeUnit::Year => int(t.year() as i64),
        TimeUnit::Quarter => int((t.month0() / 3 + 1) as i64),
        TimeUnit::Month => int(t.month() as i64),
        TimeUnit::Week => int(t.iso_week().week() as i64),
        TimeUnit::Day => int(t.day() as i64),
        TimeUnit::Hour => int(t.hour() as i64),
        TimeUnit::Minute => int(t.minute() as i64),
        TimeUnit::Second => Datum::float(t.second() as f64 + t.timestamp_subsec_millis() as f64 / 1000.0),
        TimeUnit::DayOfWeek => int(t.weekday().num_days_from_sunday() as i64),
        TimeUnit::DayOfYear => int(t.ordinal() as i64),
        TimeUnit::Epoch => Datum::float(t.timestamp_millis() as f64 / 1000.0),
    }
}

/// The start of the unit `t` falls in (weeks start on Monday, as ISO and PostgreSQL have it).
pub fn truncate(unit: TimeUnit, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let date = t.date_naive();
    let day = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    match unit {
        TimeUnit::Year => day(NaiveDate::from_ymd_opt(t.year(), 1, 1)?),
        TimeUnit::Quarter => day(NaiveDate::from_ymd_opt(t.year(), t.month0() / 3 * 3 + 1, 1)?),
        TimeUnit::Month => day(NaiveDate::from_ymd_opt(t.year(), t.month(), 1)?),
        TimeUnit::Week => day(date.checked_sub_days(chrono::Days::new(t.weekday().num_days_from_monday() as u64))?),
        TimeUnit::Day => day(date),
        TimeUnit::Hour => date.and_hms_opt(t.hour(), 0, 0).map(|d| d.and_utc()),
        TimeUnit::Minute => date.and_hms_opt(t.hour(), t.minute(), 0).map(|d| d.and_utc()),
        TimeUnit::Second => date.and_hms_opt(t.hour(), t.minute(), t.second()).map(|d| d.and_utc()),
        TimeUnit::DayOfWeek | TimeUnit::DayOfYear | TimeUnit::Epoch => None,
    }
}

/// A `LIKE` pattern as an anchored regular expression: `%` any run, `_` one character,
/// `escape` (none for `ESCAPE ''`) before either takes it literally; a pattern ending in the
/// escape character is refused, as PostgreSQL refuses it.
///
/// ```
/// let like = rtds::sql::expr::like_regex("%@%.%", Some('\\'), false).unwrap();
/// assert!(like.is_match("ana@example.com"));
/// assert!(!like.is_match("ana.example.com"));
/// ```
pub fn like_regex(pattern: &str, escape: Option<char>, case_insensitive: bool) -> Result<Regex, regex::Error> {
    let mut out = String::from(if case_insensitive { "(?si)^" } else { "(?s)^" });
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            c if Some(c) == escape => match chars.next() {
                Some(next) => out.push_str(&regex::escape(&next.to_string())),
                None => return Err(regex::Error::Syntax("the pattern ends in its escape character".into())),
            },
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    Regex::new(&out)
}
