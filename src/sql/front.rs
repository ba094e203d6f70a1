//! The front of the SQL layer: a dataflow file's statements, parsed by `sqlparser`
//! (PostgreSQL dialect), names resolved against the source table and types checked, into the
//! plan ([`super::plan`]). Every error names the file, the line and the column, and says what
//! is allowed instead; nothing here touches a service.

use std::fmt;

use sqlparser::ast::{self, Spanned};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

use super::Program;
use super::expr::{Arith, Compare, Expr, Func, TimeUnit, TrimSide, cast, like_regex};
use super::plan::{Aggregate, Column, Expectation, OnViolation, Output, Table, View, Watermark, Window};
use super::types::{Datum, Type};

/// A dataflow file that cannot be loaded: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SqlError {
    /// The file.
    pub origin: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// The error is an aggregate where none may be (the grouped scope retries structurally).
    aggregate: bool,
}

impl SqlError {
    /// An error at `at` in `origin`.
    pub fn new(origin: &str, at: Location, message: impl Into<String>) -> SqlError {
        SqlError { origin: origin.to_string(), line: at.line, column: at.column, message: message.into(), aggregate: false }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.origin, self.line, self.column, self.message)
    }
}

/// Where a definition sits in its file: line and column, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub line: u64,
    pub column: u64,
}

/// One `key = value` of a `WITH (...)` list.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Lower case; dotted keys (`'properties.security.protocol'`) as written.
    pub key: String,
    pub value: SettingValue,
    pub at: Location,
}

/// A setting's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    Text(String),
    /// The number as written (an integer or a decimal).
    Number(String),
    Bool(bool),
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Text(t) => write!(f, "'{t}'"),
            SettingValue::Number(n) => f.write_str(n),
            SettingValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// What a dataflow's SQL may use as the source table's columns: name to type, as the decoder
/// of the topic's messages reads them.
pub type Fields<'a> = &'a [(&'a str, Type)];

/// Parses a dataflow file into its program. `fields` are the columns the source's messages
/// can give; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str, fields: Fields<'_>) -> Result<Program, SqlError> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, text).map_err(|e| parser_error(&e.to_string(), origin, text))?;
    let front = Front { origin: origin.to_string(), fields, not_null: Default::default(), window: Default::default() };
    front.program(&statements, text)
}

/// A parser error's message without sqlparser's prefix, with its position (the end of the
/// text when the parser ran out of it).
fn parser_error(message: &str, origin: &str, text: &str) -> SqlError {
    let message = message.trim_start_matches("sql parser error: ");
    let (text, line, column) = match message.rsplit_once(" at Line: ") {
        Some((text, position)) => {
            let mut numbers = position.split(", Column: ").map(|n| n.trim().parse::<u64>().unwrap_or(0));
            (text, numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
        }
        None => {
            let lines: Vec<&str> = text.lines().collect();
            let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
            (message, last as u64 + 1, lines.get(last).map_or(0, |l| l.chars().count()) as u64 + 1)
        }
    };
    SqlError { origin: origin.to_string(), line, column, message: format!("syntax: {text}"), aggregate: false }
}

/// A typed expression as the front builds it.
#[derive(Debug, Clone)]
struct Typed {
    expr: Expr,
    ty: Type,
    nullable: bool,
    /// The `NULL` literal, whose type is whatever its neighbours need.
    null: bool,
}

impl Typed {
    fn new(expr: Expr, ty: Type, nullable: bool) -> Typed {
        Typed { expr, ty, nullable, null: false }
    }

    fn literal(datum: Datum, ty: Type) -> Typed {
        let null = datum.is_null();
        Typed { expr: Expr::Literal(datum), ty, nullable: null, null }
    }

    fn key(&self) -> String {
        format!("{:?}", self.expr)
    }
}

/// Where names resolve while compiling an expression.
enum Scope<'a> {
    /// The source table's columns: `WHERE`, `GROUP BY`, aggregate arguments, expectations
    /// (the only place `NOW()` may be read).
    Row { table: &'a Table, now: bool },
    /// After grouping: the group keys and the aggregates (the `SELECT` list and `HAVING` of
    /// a grouped view). Aggregates found are added to `aggregates`.
    Grouped { table: &'a Table, groups: &'a [Typed], aggregates: &'a mut Vec<(Aggregate, Typed, String)> },
}

impl Scope<'_> {
    fn table(&self) -> &Table {
        match self {
            Scope::Row { table, .. } | Scope::Grouped { table, .. } => table,
        }
    }
}

struct Front<'f> {
    origin: String,
    fields: Fields<'f>,
    /// Columns the view being compiled keeps only when not NULL (`WHERE c IS NOT NULL AND
    /// ...`): within that view they are never NULL.
    not_null: std::cell::RefCell<Vec<usize>>,
    /// The view being compiled reads `TUMBLE(table, column, size)`: the column and the size
    /// in milliseconds, which make its `window_start` and `window_end` columns.
    window: std::cell::Cell<Option<(usize, i64)>>,
}

const AGGREGATES: [&str; 5] = ["count", "sum", "avg", "min", "max"];

const FUNCTIONS: &str = "LOWER, UPPER, TRIM, LENGTH, CONCAT, SUBSTRING, SPLIT_PART, REGEXP_LIKE, REGEXP_SUBSTR, \
     EXTRACT, DATE_TRUNC, AGE, ABS, ROUND, COALESCE, NULLIF, CAST, NOW (expectations only), and the aggregates \
     COUNT, SUM, AVG, MIN, MAX";

impl Front<'_> {
    fn error(&self, span: Span, message: impl Into<String>) -> SqlError {
        SqlError { origin: self.origin.clone(), line: span.start.line, column: span.start.column, message: message.into(), aggregate: false }
    }

    fn at(span: Span) -> Location {
        Location { line: span.start.line, column: span.start.column }
    }

    fn program(&self, statements: &[ast::Statement], text: &str) -> Result<Program, SqlError> {
        let mut table: Option<(Table, Vec<Setting>)> = None;
        let mut sink: Option<(String, Vec<Setting>, Location)> = None;
        let mut views: Vec<View> = Vec::new();
        for statement in statements {
            match statement {
                ast::Statement::CreateTable(create) if create.query.is_none() => {
                    if table.is_some() {
                        return Err(self.error(create.name.span(), "a dataflow reads one source table, and this is a second CREATE TABLE without AS: the rows table is CREATE TABLE name WITH (...) AS SELECT * FROM source"));
                    }
                    table = Some(self.source_table(create)?);
                }
                ast::Statement::CreateTable(create) => {
                    let Some((source, _)) = &table else {
                        return Err(self.error(create.name.span(), "declare the source table (CREATE TABLE ... WITH (connector = ...)) before the rows table that copies it"));
                    };
                    if sink.is_some() {
                        return Err(self.error(create.name.span(), "a dataflow has one rows table (CREATE TABLE ... AS SELECT * FROM source); this is a second"));
                    }
                    sink = Some(self.rows_table(create, source)?);
                }
                ast::Statement::CreateView(create) => {
                    let Some((source, _)) = &table else {
                        return Err(self.error(create.name.span(), "declare the source table (CREATE TABLE) before the views over it"));
                    };
                    let view = self.view(create, source)?;
                    if views.iter().any(|v| v.name == view.name) || view.name == source.name {
                        return Err(self.error(create.name.span(), format!("{} is declared twice", view.name)));
                    }
                    views.push(view);
                }
                other => {
                    let span = other.span();
                    let first = other.to_string().split_whitespace().take(3).collect::<Vec<_>>().join(" ");
                    return Err(self.error(span, format!(
                        "{first} ...: a dataflow file holds CREATE TABLE (the source), CREATE TABLE ... AS SELECT * FROM it (the rows table) and CREATE MATERIALIZED VIEW statements"
                    )));
                }
            }
        }
        let Some((mut table, source)) = table else {
            return Err(SqlError { origin: self.origin.clone(), line: 1, column: 1, message: "no source table: a dataflow starts with CREATE TABLE name (id UUID PRIMARY KEY, ...) WITH (connector = ...)".into(), aggregate: false });
        };
        let Some((sink_name, sink, sink_at)) = sink else {
            let end = Location { line: text.lines().count().max(1) as u64, column: 1 };
            return Err(SqlError { origin: self.origin.clone(), line: end.line, column: end.column, message: format!("no rows table: add CREATE TABLE name WITH (connector = ...) AS SELECT * FROM {}", table.name), aggregate: false });
        };
        if views.iter().any(|v| v.name == sink_name) {
            return Err(SqlError { origin: self.origin.clone(), line: sink_at.line, column: sink_at.column, message: format!("{sink_name} is both the rows table and a view"), aggregate: false });
        }
        // What the dedupe keeps of each row: the key and every column a view reads.
        let mut used = vec![table.key];
        used.extend(table.watermark.as_ref().map(|w| w.column));
        for view in &views {
            for expr in view.state_exprs() {
                expr.columns(&mut used);
            }
        }
        used.sort_unstable();
        used.dedup();
        let position = |source: usize| used.iter().position(|u| *u == source).expect("every column read is kept");
        for view in &mut views {
            for expr in view.state_exprs_mut() {
                expr.remap(&position);
            }
        }
        if let Some(watermark) = &mut table.watermark {
            watermark.state = position(watermark.column);
        }
        table.state_columns = used;
        super::shared::share_in_dataflow(&mut table, &mut views);
        Ok(Program { origin: self.origin.clone(), table, source, sink_name, sink, sink_at, views })
    }

    /// `CREATE TABLE name (columns, CONSTRAINT name CHECK (...) [NOT ENFORCED]) WITH (...)`.
    fn source_table(&self, create: &ast::CreateTable) -> Result<(Table, Vec<Setting>), SqlError> {
        let name = self.object_name(&create.name)?;
        let mut columns = Vec::new();
        let mut key = None;
        for def in &create.columns {
            let column_name = ident(&def.name);
            let Some(ty) = sql_type(&def.data_type) else {
                return Err(self.error(def.name.span, format!("column {column_name}: type {} is not supported (UUID, TEXT, VARCHAR, BIGINT, INT, DOUBLE PRECISION, BOOLEAN, TIMESTAMP)", def.data_type)));
            };
            match self.fields.iter().find(|(f, _)| *f == column_name) {
                None => {
                    let known: Vec<&str> = self.fields.iter().map(|(f, _)| *f).collect();
                    return Err(self.error(def.name.span, format!("column {column_name} is not a field of the source's messages ({})", known.join(", "))));
                }
                Some((_, field_type)) if *field_type != ty => {
                    return Err(self.error(def.name.span, format!("column {column_name} is {field_type} in the source's messages, not {ty}")));
                }
                Some(_) => {}
            }
            if columns.iter().any(|c: &Column| c.name == column_name) {
                return Err(self.error(def.name.span, format!("column {column_name} is declared twice")));
            }
            let mut nullable = true;
            for option in &def.options {
                match &option.option {
                    ast::ColumnOption::PrimaryKey(_) => {
                        if key.is_some() {
                            return Err(self.error(def.name.span, "one PRIMARY KEY column: the key each message is keyed by"));
                        }
                        key = Some(columns.len());
                        nullable = false;
                    }
                    ast::ColumnOption::NotNull => nullable = false,
                    ast::ColumnOption::Null => {}
                    other => return Err(self.error(def.name.span, format!("column {column_name}: {other} is not supported (PRIMARY KEY, NOT NULL)"))),
                }
            }
            columns.push(Column { name: column_name, ty, nullable });
        }
        let Some(key) = key else {
            return Err(self.error(create.name.span(), "the source table needs its key: the column each message is keyed by, declared PRIMARY KEY (id UUID PRIMARY KEY)"));
        };
        if columns[key].ty != Type::Uuid || columns[key].name != "id" {
            return Err(self.error(create.name.span(), "the source's messages are keyed by their id: declare id UUID PRIMARY KEY"));
        }
        let mut table = Table { name, columns, key, expectations: Vec::new(), state_columns: Vec::new(), watermark: None };
        for constraint in &create.constraints {
            let ast::TableConstraint::Check(check) = constraint else {
                return Err(self.error(constraint.span(), "only CONSTRAINT name CHECK (...) [NOT ENFORCED] constraints (expectations) are allowed; declare the key on its column"));
            };
            let Some(name) = &check.name else {
                return Err(self.error(check.expr.span(), "name the expectation: CONSTRAINT name CHECK (...), the name is the reason its failures carry"));
            };
            let expectation_name = ident(name);
            if table.expectations.iter().any(|e| e.name == expectation_name) {
                return Err(self.error(name.span, format!("expectation {expectation_name} is declared twice")));
            }
            let typed = self.compile(&check.expr, &mut Scope::Row { table: &table, now: true })?;
            self.expect_type(&typed, Type::Bool, check.expr.span(), "an expectation")?;
            let on_violation = if check.enforced == Some(false) { OnViolation::Warn } else { OnViolation::DropRow };
            table.expectations.push(Expectation { name: expectation_name, expr: typed.expr, on_violation, sql: check.expr.to_string() });
        }
        if let Some(value) = option_value(&create.table_options, "watermark") {
            table.watermark = Some(self.watermark(value, &table)?);
        }
        let settings = self.settings(&create.table_options, &["watermark"])?;
        Ok((table, settings))
    }

    /// `watermark = column` or `watermark = column - INTERVAL '5' SECOND` (Flink's `WATERMARK
    /// FOR column AS column - INTERVAL ...`, which sqlparser does not parse, as a setting).
    fn watermark(&self, value: &ast::Expr, table: &Table) -> Result<Watermark, SqlError> {
        let usage = "watermark = column - INTERVAL '5' SECOND (a TIMESTAMP column of the table; the interval is how late a record may be)";
        let (column, delay_ms) = match value {
            ast::Expr::Identifier(i) => (i, 0),
            ast::Expr::BinaryOp { left, op: ast::BinaryOperator::Minus, right } => match (&**left, &**right) {
                (ast::Expr::Identifier(i), ast::Expr::Interval(interval)) => (i, self.interval(interval, right.span())?),
                _ => return Err(self.error(value.span(), format!("watermark = {value}: write {usage}"))),
            },
            _ => return Err(self.error(value.span(), format!("watermark = {value}: write {usage}"))),
        };
        let name = ident(column);
        let Some(index) = table.column(&name) else {
            return Err(self.error(column.span, format!("no column {name} in {}: write {usage}", table.name)));
        };
        if table.columns[index].ty != Type::Timestamp {
            return Err(self.error(column.span, format!("watermark column {name} is {}, not TIMESTAMP", table.columns[index].ty)));
        }
        if delay_ms < 0 {
            return Err(self.error(value.span(), "the watermark's interval is how late a record may be: not negative"));
        }
        Ok(Watermark { column: index, state: 0, delay_ms })
    }

    /// `CREATE TABLE name WITH (...) AS SELECT * FROM source`: the rows table.
    fn rows_table(&self, create: &ast::CreateTable, source: &Table) -> Result<(String, Vec<Setting>, Location), SqlError> {
        let name = self.object_name(&create.name)?;
        let query = create.query.as_ref().expect("a table with AS");
        let copies_source = match &*query.body {
            ast::SetExpr::Select(select) => {
                select.projection.len() == 1
                    && matches!(select.projection[0], ast::SelectItem::Wildcard(_))
                    && select.selection.is_none()
                    && matches!(&select.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty())
                    && select.from.len() == 1
                    && select.from[0].joins.is_empty()
                    && matches!(&select.from[0].relation, ast::TableFactor::Table { name, args: None, .. } if object_name_text(name) == source.name)
            }
            _ => false,
        };
        if !copies_source || query.order_by.is_some() || query.limit_clause.is_some() || query.with.is_some() {
            return Err(self.error(query.span(), format!("the rows table is a copy of the source table: write AS SELECT * FROM {} (derive other tables as materialized views)", source.name)));
        }
        if !create.columns.is_empty() {
            return Err(self.error(create.name.span(), "the rows table takes its columns from the source table: declare none"));
        }
        Ok((name, self.settings(&create.table_options, &[])?, Self::at(create.name.span())))
    }

    fn object_name(&self, name: &ast::ObjectName) -> Result<String, SqlError> {
        if name.0.len() != 1 {
            return Err(self.error(name.span(), format!("{name}: name it without a schema (the keyspace is a setting of the sink)")));
        }
        Ok(object_name_text(name))
    }

    /// A `WITH (key = value, ...)` list.
    /// The `WITH (...)` settings but those named in `expressions` (read by their own rules).
    fn settings(&self, options: &ast::CreateTableOptions, expressions: &[&str]) -> Result<Vec<Setting>, SqlError> {
        let list = match options {
            ast::CreateTableOptions::None => return Ok(Vec::new()),
            ast::CreateTableOptions::With(list) => list,
            other => return Err(self.error(Span::empty(), format!("{other}: settings go in WITH (key = value, ...)"))),
        };
        let mut settings: Vec<Setting> = Vec::new();
        for option in list {
            let ast::SqlOption::KeyValue { key, value } = option else {
                return Err(self.error(Span::empty(), format!("{option}: settings are key = value")));
            };
            let key_text = option_key(key);
            if expressions.contains(&key_text.as_str()) {
                continue;
            }
            let value_parsed = match value {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::SingleQuotedString(s) => SettingValue::Text(s.clone()),
                    ast::Value::Number(n, _) => SettingValue::Number(n.to_string()),
                    ast::Value::Boolean(b) => SettingValue::Bool(*b),
                    _ => return Err(self.error(value.span(), format!("{key_text} = {value}: a setting is a 'text', a number or true/false"))),
                },
                ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr } => match &**expr {
                    ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => SettingValue::Number(format!("-{}", v.value)),
                    _ => return Err(self.error(value.span(), format!("{key_text} = {value}: a setting is a 'text', a number or true/false"))),
                },
                _ => return Err(self.error(value.span(), format!("{key_text} = {value}: a setting is a 'text', a number or true/false"))),
            };
            let at = Self::at(key.span());
            if settings.iter().any(|s| s.key == key_text) {
                return Err(self.error(key.span(), format!("{key_text} is set twice")));
            }
            settings.push(Setting { key: key_text, value: value_parsed, at });
        }
        Ok(settings)
    }

    /// `CREATE MATERIALIZED VIEW name AS SELECT ...`.
    fn view(&self, create: &ast::CreateView, table: &Table) -> Result<View, SqlError> {
        let name = self.object_name(&create.name)?;
        if !create.materialized {
            return Err(self.error(create.name.span(), "write CREATE MATERIALIZED VIEW: rtds keeps every view's table up to date"));
        }
        if !create.columns.is_empty() {
            return Err(self.error(create.name.span(), "name a view's columns in its SELECT list (AS name), not after its name"));
        }
        let lateness_ms = self.view_settings(create)?;
        let query = &create.query;
        if let Some(with) = &query.with {
            return Err(self.error(with.span(), "WITH (common table expressions) is not supported: declare each step as its own view over the source table"));
        }
        if let Some(order) = &query.order_by {
            return Err(self.error(order.span(), "ORDER BY is not supported: a view is a set kept up to date; order it when you read its table"));
        }
        if let Some(limit) = &query.limit_clause {
            return Err(self.error(limit.span(), "LIMIT and OFFSET are not supported: a view keeps every group"));
        }
        if let Some(fetch) = &query.fetch {
            return Err(self.error(fetch.span(), "FETCH is not supported: a view keeps every group"));
        }
        let select = match &*query.body {
            ast::SetExpr::Select(select) => select,
            other => return Err(self.error(other.span(), "set operations (UNION, INTERSECT, EXCEPT) and VALUES are not supported: a view is one SELECT over the source table")),
        };
        if select.distinct.is_some() {
            return Err(self.error(select.span(), "SELECT DISTINCT is not supported: GROUP BY the columns instead"));
        }
        if let Some(qualify) = &select.qualify {
            return Err(self.error(qualify.span(), "QUALIFY is not supported (window functions are not)"));
        }
        if !select.named_window.is_empty() {
            return Err(self.error(select.span(), "WINDOW clauses are not supported (window functions are not)"));
        }
        let window = self.from(select, table)?;
        self.window.set(window);
        if window.is_none() && lateness_ms.is_some() {
            return Err(self.error(create.name.span(), "allowed_lateness is a setting of a view over TUMBLE(...)"));
        }
        let mut not_null = select.selection.as_ref().map(|w| not_null_columns(w, table)).unwrap_or_default();
        // A row without an event time is in no window: TUMBLE keeps only rows that have one.
        not_null.extend(window.map(|(column, _)| column));
        *self.not_null.borrow_mut() = not_null;
        let mut filter = match &select.selection {
            Some(selection) => {
                let typed = self.compile(selection, &mut Scope::Row { table, now: false })?;
                self.expect_type(&typed, Type::Bool, selection.span(), "WHERE")?;
                Some(typed.expr)
            }
            None => None,
        };
        if let Some((column, _)) = window {
            let timed = Expr::IsNull(Box::new(Expr::Column(column)), true);
            filter = Some(match filter {
                Some(f) => Expr::And(Box::new(timed), Box::new(f)),
                None => timed,
            });
        }
        // The SELECT list's expressions and names.
        let mut items: Vec<(&ast::Expr, String, Span)> = Vec::new();
        for item in &select.projection {
            let (expr, name) = match item {
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, ident(alias)),
                ast::SelectItem::UnnamedExpr(expr) => match expr {
                    ast::Expr::Identifier(i) => (expr, ident(i)),
                    ast::Expr::CompoundIdentifier(parts) => (expr, ident(parts.last().expect("a compound identifier has parts"))),
                    other => return Err(self.error(other.span(), format!("name this column: {other} AS name (it is a column of the view's table)"))),
                },
                other => return Err(self.error(other.span(), "list the view's columns (SELECT * is not supported)")),
            };
            if items.iter().any(|(_, n, _)| *n == name) {
                return Err(self.error(item.span(), format!("two columns are named {name}")));
            }
            items.push((expr, name, item.span()));
        }
        let group_exprs: Vec<&ast::Expr> = match &select.group_by {
            ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs.iter().collect(),
            other => return Err(self.error(other.span(), "GROUP BY ALL, ROLLUP, CUBE and GROUPING SETS are not supported: GROUP BY the expressions")),
        };
        // GROUP BY may name a SELECT column by its alias or its position.
        let mut groups: Vec<(&ast::Expr, Span)> = Vec::new();
        for expr in group_exprs {
            let resolved = match expr {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::Number(n, _) => {
                        let position: usize = n.parse().map_err(|_| self.error(expr.span(), "GROUP BY position must be a whole number"))?;
                        let Some((item, _, _)) = position.checked_sub(1).and_then(|i| items.get(i)) else {
                            return Err(self.error(expr.span(), format!("GROUP BY {position}: the SELECT list has {} columns", items.len())));
                        };
                        *item
                    }
                    _ => expr,
                },
                ast::Expr::Identifier(i) if table.column(&ident(i)).is_none() => match items.iter().find(|(_, n, _)| *n == ident(i)) {
                    Some((item, _, _)) => *item,
                    None => expr,
                },
                _ => expr,
            };
            groups.push((resolved, expr.span()));
        }
        let has_aggregate = items.iter().any(|(e, _, _)| self.contains_aggregate(e, table)) || select.having.is_some();
        if groups.is_empty() && !has_aggregate {
            if window.is_some() {
                return Err(self.error(create.name.span(), "a view over TUMBLE(...) aggregates per window: GROUP BY window_start (and more keys)"));
            }
            return self.plain_view(name, table, filter, &items, Self::at(create.name.span()));
        }
        let mut group_typed = Vec::new();
        for (expr, _) in &groups {
            let typed = self.compile(expr, &mut Scope::Row { table, now: false })?;
            if typed.ty == Type::Interval {
                return Err(self.error(expr.span(), "an INTERVAL cannot be a group key"));
            }
            group_typed.push(typed);
        }
        let mut aggregates: Vec<(Aggregate, Typed, String)> = Vec::new();
        let mut outputs = Vec::new();
        for (expr, column_name, span) in &items {
            let typed = self.compile(expr, &mut Scope::Grouped { table, groups: &group_typed, aggregates: &mut aggregates })?;
            if typed.ty == Type::Interval {
                return Err(self.error(*span, format!("column {column_name} is an INTERVAL, which no table stores: compute a number from it")));
            }
            outputs.push(Output { column: Column { name: column_name.clone(), ty: typed.ty, nullable: typed.nullable }, expr: typed.expr, at: Self::at(*span) });
        }
        let having = match &select.having {
            Some(having) => {
                let typed = self.compile(having, &mut Scope::Grouped { table, groups: &group_typed, aggregates: &mut aggregates })?;
                self.expect_type(&typed, Type::Bool, having.span(), "HAVING")?;
                Some(typed.expr)
            }
            None => None,
        };
        // A view's table is keyed by its groups: each must be a column of it.
        let mut key = Vec::new();
        for (index, (_, span)) in groups.iter().enumerate() {
            match outputs.iter().position(|o| matches!(o.expr, Expr::Column(i) if i == index)) {
                Some(position) => key.push(position),
                None => {
                    return Err(self.error(*span, "this GROUP BY expression is not a column of the SELECT list: a view's table is keyed by its groups, so select it (with AS name)"));
                }
            }
        }
        // A window's rows are written when it closes: its end must be readable from the key.
        let window = match window {
            None => None,
            Some((_, size_ms)) => {
                let found = key.iter().enumerate().find_map(|(position, output)| match outputs[*output].expr {
                    Expr::Column(group) => match group_typed[group].expr {
                        Expr::Call(Func::WindowStart(_), _) => Some((position, size_ms)),
                        Expr::Call(Func::WindowEnd(_), _) => Some((position, 0)),
                        _ => None,
                    },
                    _ => None,
                });
                let Some((key_column, key_offset_ms)) = found else {
                    return Err(self.error(create.name.span(), "a view over TUMBLE(...) is keyed by its window: GROUP BY window_start (or window_end) and select it"));
                };
                Some(Window { size_ms, lateness_ms: lateness_ms.unwrap_or(0), key_column, key_offset_ms })
            }
        };
        Ok(View {
            window,
            name,
            filter,
            group: group_typed.into_iter().map(|t| t.expr).collect(),
            aggregates: aggregates.into_iter().map(|(a, _, _)| a).collect(),
            grouped: true,
            having,
            outputs,
            key,
            at: Self::at(create.name.span()),
        })
    }

    /// A view without aggregates: one output row per source row, keyed by the table's key.
    fn plain_view(&self, name: String, table: &Table, filter: Option<Expr>, items: &[(&ast::Expr, String, Span)], at: Location) -> Result<View, SqlError> {
        let mut outputs = Vec::new();
        for (expr, column_name, span) in items {
            let typed = self.compile(expr, &mut Scope::Row { table, now: false })?;
            if typed.ty == Type::Interval {
                return Err(self.error(*span, format!("column {column_name} is an INTERVAL, which no table stores")));
            }
            outputs.push(Output { column: Column { name: column_name.clone(), ty: typed.ty, nullable: typed.nullable }, expr: typed.expr, at: Self::at(*span) });
        }
        let Some(key) = outputs.iter().position(|o| matches!(o.expr, Expr::Column(i) if i == table.key)) else {
            let span = items.first().map(|i| i.2).unwrap_or(Span::empty());
            return Err(self.error(span, format!("a view without GROUP BY keeps one row per source row: select its key ({}) so its table is keyed by it", table.columns[table.key].name)));
        };
        Ok(View { name, filter, group: Vec::new(), aggregates: Vec::new(), grouped: false, having: None, outputs, key: vec![key], at, window: None })
    }

    /// `FROM` must be the source table alone.
    /// `FROM` the source table, or `FROM TUMBLE(table, column, size)`: the window's column and
    /// size.
    fn from(&self, select: &ast::Select, table: &Table) -> Result<Option<(usize, i64)>, SqlError> {
        let [from] = select.from.as_slice() else {
            let span = select.from.get(1).map(|f| f.span()).unwrap_or(select.span());
            return Err(self.error(span, format!("a view reads one table, FROM {}: joins are not supported", table.name)));
        };
        if let Some(join) = from.joins.first() {
            return Err(self.error(join.relation.span(), "joins are not supported: a view reads the source table alone"));
        }
        match &from.relation {
            ast::TableFactor::Table { name, args: None, .. } if object_name_text(name) == table.name => Ok(None),
            ast::TableFactor::Table { name, args: Some(args), .. } => {
                let function = object_name_text(name);
                if function == "tumble" {
                    self.tumble(&args.args, name.span(), table).map(Some)
                } else if ["hop", "session", "cumulate"].contains(&function.as_str()) {
                    Err(self.error(name.span(), format!("{} windows are not supported: tumbling windows are, FROM TUMBLE({}, column, INTERVAL '1' HOUR)", function.to_uppercase(), table.name)))
                } else {
                    Err(self.error(name.span(), format!("table function {function} is not supported: a view reads FROM {}", table.name)))
                }
            }
            ast::TableFactor::Table { name, .. } => Err(self.error(name.span(), format!("no table {}: a view reads the source table, {}", object_name_text(name), table.name))),
            ast::TableFactor::Derived { .. } => Err(self.error(from.relation.span(), "subqueries are not supported: declare the inner query as its own view")),
            other => Err(self.error(other.span(), format!("FROM {other} is not supported: a view reads FROM {}", table.name))),
        }
    }

    /// `TUMBLE(table, column, INTERVAL ...)` (RisingWave's form): the column must be the
    /// table's watermark column, which says when a window closes.
    fn tumble(&self, args: &[ast::FunctionArg], span: Span, table: &Table) -> Result<(usize, i64), SqlError> {
        let usage = format!("TUMBLE({}, column, INTERVAL '1' HOUR)", table.name);
        let exprs: Vec<&ast::Expr> = args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect();
        let [source, column, size] = exprs.as_slice() else {
            return Err(self.error(span, format!("write {usage}")));
        };
        match source {
            ast::Expr::Identifier(i) if ident(i) == table.name => {}
            other => return Err(self.error(other.span(), format!("TUMBLE reads the source table: {usage}"))),
        }
        let ast::Expr::Identifier(column) = column else {
            return Err(self.error(column.span(), format!("TUMBLE's second argument is a column: {usage}")));
        };
        let name = ident(column);
        let Some(index) = table.column(&name) else {
            return Err(self.error(column.span, format!("no column {name} in {}", table.name)));
        };
        let Some(watermark) = &table.watermark else {
            return Err(self.error(column.span, format!("a window closes when the watermark passes it: declare one on {}, WITH (watermark = {name} - INTERVAL '5' SECOND, ...)", table.name)));
        };
        if watermark.column != index {
            let declared = &table.columns[watermark.column].name;
            return Err(self.error(column.span, format!("TUMBLE's column must be the watermark's, {declared}: windows close by its time")));
        }
        let ast::Expr::Interval(interval) = size else {
            return Err(self.error(size.span(), format!("TUMBLE's size is an INTERVAL: {usage}")));
        };
        let size_ms = self.interval(interval, size.span())?;
        if size_ms <= 0 {
            return Err(self.error(size.span(), "a window's size is positive"));
        }
        Ok((index, size_ms))
    }

    /// A view's `WITH (...)`: only `allowed_lateness = INTERVAL ...`, for a window.
    fn view_settings(&self, create: &ast::CreateView) -> Result<Option<i64>, SqlError> {
        let list = match &create.options {
            ast::CreateTableOptions::None => return Ok(None),
            ast::CreateTableOptions::With(list) => list,
            other => return Err(self.error(create.name.span(), format!("{other}: a view's settings go in WITH (allowed_lateness = INTERVAL '1' MINUTE)"))),
        };
        let mut lateness = None;
        for option in list {
            match option {
                ast::SqlOption::KeyValue { key, value: ast::Expr::Interval(interval) } if option_key(key) == "allowed_lateness" => {
                    let ms = self.interval(interval, key.span())?;
                    if ms < 0 {
                        return Err(self.error(key.span(), "allowed_lateness is not negative"));
                    }
                    lateness = Some(ms);
                }
                other => {
                    return Err(self.error(create.name.span(), format!("{other}: a view's one setting is allowed_lateness = INTERVAL '...' (for a window); its table is written where the rows table is")));
                }
            }
        }
        Ok(lateness)
    }

    fn contains_aggregate(&self, expr: &ast::Expr, table: &Table) -> bool {
        matches!(self.compile(expr, &mut Scope::Row { table, now: false }), Err(e) if e.aggregate)
    }

    fn expect_type(&self, typed: &Typed, ty: Type, span: Span, what: &str) -> Result<(), SqlError> {
        if typed.ty == ty || typed.null {
            Ok(())
        } else {
            Err(self.error(span, format!("{what} must be {ty}, and this is {}", typed.ty)))
        }
    }

    /// Makes `typed` of type `to`: an integer widens to a float, a text literal is read as a
    /// timestamp or a UUID, NULL takes any type.
    fn coerce(&self, typed: Typed, to: Type, span: Span) -> Result<Typed, SqlError> {
        if typed.ty == to {
            return Ok(typed);
        }
        if typed.null {
            return Ok(Typed { ty: to, ..typed });
        }
        match (typed.ty, to, &typed.expr) {
            (Type::Int, Type::Float, _) => Ok(Typed::new(Expr::Cast(Box::new(typed.expr), Type::Float), Type::Float, typed.nullable)),
            (Type::Text, Type::Timestamp | Type::Uuid, Expr::Literal(datum)) => {
                let value = cast(datum.clone(), to);
                if value.is_null() {
                    return Err(self.error(span, format!("'{datum}' is not a {to}")));
                }
                Ok(Typed::literal(value, to))
            }
            _ => Err(self.error(span, format!("expected {to}, found {}", typed.ty))),
        }
    }

    /// Brings two operands to one type, for a comparison or a CASE.
    fn unify(&self, a: Typed, b: Typed, span: Span) -> Result<(Typed, Typed), SqlError> {
        if a.ty == b.ty {
            return Ok((a, b));
        }
        if a.null || (b.ty == Type::Float && a.ty == Type::Int) || (a.ty == Type::Text && matches!(a.expr, Expr::Literal(_))) {
            let ty = b.ty;
            return Ok((self.coerce(a, ty, span)?, b));
        }
        let ty = a.ty;
        Ok((a, self.coerce(b, ty, span)?))
    }

    fn compile(&self, expr: &ast::Expr, scope: &mut Scope<'_>) -> Result<Typed, SqlError> {
        if let Scope::Grouped { .. } = scope {
            if let ast::Expr::Function(function) = expr {
                if AGGREGATES.contains(&function_name(function).as_str()) {
                    return self.aggregate(function, scope);
                }
            }
            let (table, groups) = match scope {
                Scope::Grouped { table, groups, .. } => (*table, *groups),
                Scope::Row { .. } => unreachable!("matched above"),
            };
            match self.compile(expr, &mut Scope::Row { table, now: false }) {
                Ok(typed) => {
                    let key = typed.key();
                    if let Some(index) = groups.iter().position(|g| g.key() == key) {
                        return Ok(Typed::new(Expr::Column(index), typed.ty, typed.nullable));
                    }
                    let mut columns = Vec::new();
                    typed.expr.columns(&mut columns);
                    if columns.is_empty() {
                        return Ok(typed);
                    }
                    // Not a group key as a whole: its parts may be (a group key inside a larger
                    // expression), else a column is read outside any group.
                    if matches!(expr, ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)) {
                        return Err(self.error(expr.span(), format!("{expr} must be in GROUP BY or inside an aggregate")));
                    }
                }
                Err(error) if !error.aggregate => return Err(error),
                Err(_) => {}
            }
        }
        let span = expr.span();
        let row = |typed: Typed| Ok(typed);
        match expr {
            ast::Expr::Identifier(name) => self.column(&ident(name), None, span, scope),
            ast::Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [qualifier, name] => self.column(&ident(name), Some(&ident(qualifier)), span, scope),
                _ => Err(self.error(span, format!("{expr}: name a column as column or table.column"))),
            },
            ast::Expr::Nested(inner) => self.compile(inner, scope),
            ast::Expr::Value(value) => self.value(&value.value, span),
            ast::Expr::TypedString(typed) => {
                let ty = sql_type(&typed.data_type).ok_or_else(|| self.error(span, format!("type {} is not supported", typed.data_type)))?;
                let text = match &typed.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => return Err(self.error(span, format!("{other} must be a quoted text"))),
                };
                let value = cast(Datum::text(&text), ty);
                if value.is_null() {
                    return Err(self.error(span, format!("'{text}' is not a {ty}")));
                }
                row(Typed::literal(value, ty))
            }
            ast::Expr::Interval(interval) => row(Typed::literal(Datum::Interval(self.interval(interval, span)?), Type::Interval)),
            ast::Expr::UnaryOp { op, expr: inner } => {
                let typed = self.compile(inner, scope)?;
                match op {
                    ast::UnaryOperator::Not => {
                        self.expect_type(&typed, Type::Bool, inner.span(), "NOT's operand")?;
                        row(Typed::new(Expr::Not(Box::new(typed.expr)), Type::Bool, typed.nullable))
                    }
                    ast::UnaryOperator::Minus if typed.ty.is_numeric() || typed.ty == Type::Interval => row(Typed::new(Expr::Negate(Box::new(typed.expr)), typed.ty, typed.nullable)),
                    ast::UnaryOperator::Plus if typed.ty.is_numeric() => row(typed),
                    other => Err(self.error(span, format!("{other} cannot apply to {}", typed.ty))),
                }
            }
            ast::Expr::BinaryOp { left, op, right } => self.binary(left, op, right, span, scope),
            ast::Expr::IsNull(inner) | ast::Expr::IsNotNull(inner) => {
                let typed = self.compile(inner, scope)?;
                row(Typed::new(Expr::IsNull(Box::new(typed.expr), matches!(expr, ast::Expr::IsNotNull(_))), Type::Bool, false))
            }
            ast::Expr::Between { expr: inner, negated, low, high } => {
                let value = self.compile(inner, scope)?;
                let (low, high) = (self.compile(low, scope)?, self.compile(high, scope)?);
                let (v1, low) = self.unify(value.clone(), low, span)?;
                let (v2, high) = self.unify(value, high, span)?;
                let nullable = v1.nullable || low.nullable || high.nullable;
                let both = Expr::And(
                    Box::new(Expr::Compare(Compare::GtEq, Box::new(v1.expr), Box::new(low.expr))),
                    Box::new(Expr::Compare(Compare::LtEq, Box::new(v2.expr), Box::new(high.expr))),
                );
                row(Typed::new(if *negated { Expr::Not(Box::new(both)) } else { both }, Type::Bool, nullable))
            }
            ast::Expr::In { expr: inner, target: ast::InTarget::List(list), negated, .. } => {
                // The value and every item brought to one type, as for a CASE.
                let mut all = vec![self.compile(inner, scope)?];
                for item in list {
                    all.push(self.compile(item, scope)?);
                }
                let all = self.common_type(all, span)?;
                let nullable = all.iter().any(|t| t.nullable);
                let mut all = all.into_iter().map(|t| t.expr);
                let value = all.next().expect("the value");
                row(Typed::new(Expr::In { expr: Box::new(value), list: all.collect(), negated: *negated }, Type::Bool, nullable))
            }
            ast::Expr::In { .. } | ast::Expr::Subquery(_) | ast::Expr::Exists { .. } => {
                Err(self.error(span, "subqueries are not supported: a view reads the source table alone"))
            }
            ast::Expr::Like { negated, expr: inner, pattern, escape_char, any: false } | ast::Expr::ILike { negated, expr: inner, pattern, escape_char, any: false } => {
                let typed = self.compile(inner, scope)?;
                self.expect_type(&typed, Type::Text, inner.span(), "LIKE's operand")?;
                let pattern = self.text_literal(pattern, "a LIKE pattern")?;
                // No ESCAPE: backslash; ESCAPE '': none, as in PostgreSQL.
                let escape = match escape_char.as_deref() {
                    None => Some('\\'),
                    Some(e) => self.text_literal(e, "an ESCAPE character")?.chars().next(),
                };
                let regex = like_regex(&pattern, escape, matches!(expr, ast::Expr::ILike { .. })).map_err(|e| self.error(span, format!("LIKE pattern: {e}")))?;
                row(Typed::new(Expr::Matches { expr: Box::new(typed.expr), regex, negated: *negated }, Type::Bool, typed.nullable))
            }
            ast::Expr::Case { operand, conditions, else_result, .. } => {
                let operand = operand.as_ref().map(|o| self.compile(o, scope)).transpose()?;
                let mut whens = Vec::new();
                let mut results: Vec<Typed> = Vec::new();
                for when in conditions {
                    let condition = self.compile(&when.condition, scope)?;
                    let condition = match &operand {
                        Some(operand) => {
                            let (a, b) = self.unify(operand.clone(), condition, when.condition.span())?;
                            Typed::new(Expr::Compare(Compare::Eq, Box::new(a.expr), Box::new(b.expr)), Type::Bool, true)
                        }
                        None => {
                            self.expect_type(&condition, Type::Bool, when.condition.span(), "a WHEN condition")?;
                            condition
                        }
                    };
                    whens.push(condition.expr);
                    results.push(self.compile(&when.result, scope)?);
                }
                let otherwise = match else_result {
                    Some(e) => self.compile(e, scope)?,
                    None => Typed::literal(Datum::Null, Type::Text),
                };
                results.push(otherwise);
                let results = self.common_type(results, span)?;
                let ty = results[0].ty;
                let nullable = results.iter().any(|r| r.nullable);
                let mut results = results.into_iter().map(|r| r.expr).collect::<Vec<_>>();
                let otherwise = results.pop().expect("an ELSE");
                row(Typed::new(Expr::Case { whens: whens.into_iter().zip(results).collect(), otherwise: Box::new(otherwise) }, ty, nullable))
            }
            ast::Expr::Cast { expr: inner, data_type, format: None, .. } => {
                let to = sql_type(data_type).ok_or_else(|| self.error(span, format!("type {data_type} is not supported (BIGINT, DOUBLE PRECISION, TEXT, BOOLEAN, TIMESTAMP, UUID)")))?;
                let typed = self.compile(inner, scope)?;
                let allowed = typed.null
                    || typed.ty == to
                    || to == Type::Text
                    || matches!((typed.ty, to), (Type::Int, Type::Float) | (Type::Float, Type::Int) | (Type::Bool, Type::Int) | (Type::Text, _));
                if !allowed || to == Type::Interval {
                    return Err(self.error(span, format!("a {} cannot be cast to {to}", typed.ty)));
                }
                // Text to anything may fail (NULL), as may a float too large for an integer.
                let nullable = typed.nullable || (typed.ty != to && matches!(typed.ty, Type::Text | Type::Float));
                row(Typed::new(Expr::Cast(Box::new(typed.expr), to), to, nullable))
            }
            ast::Expr::Extract { field, expr: inner, .. } => {
                let unit = time_unit(field).ok_or_else(|| self.error(span, format!("EXTRACT({field}) is not supported (YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, DOW, DOY, EPOCH)")))?;
                let typed = self.compile(inner, scope)?;
                let typed = self.coerce(typed, Type::Timestamp, inner.span())?;
                let ty = if matches!(unit, TimeUnit::Second | TimeUnit::Epoch) { Type::Float } else { Type::Int };
                row(Typed::new(Expr::Call(Func::Extract(unit), vec![typed.expr]), ty, typed.nullable))
            }
            ast::Expr::Substring { expr: inner, substring_from, substring_for, .. } => {
                let text = self.compile(inner, scope)?;
                self.expect_type(&text, Type::Text, inner.span(), "SUBSTRING's text")?;
                let Some(from) = substring_from else {
                    return Err(self.error(span, "SUBSTRING(text FROM start [FOR count])"));
                };
                let start = self.compile(from, scope)?;
                if start.ty == Type::Text {
                    return Err(self.error(from.span(), "SUBSTRING(text FROM pattern) is not supported: use REGEXP_SUBSTR(text, pattern)"));
                }
                self.expect_type(&start, Type::Int, from.span(), "SUBSTRING's start")?;
                let mut nullable = text.nullable || start.nullable;
                let mut args = vec![text.expr, start.expr];
                if let Some(count) = substring_for {
                    let count_typed = self.compile(count, scope)?;
                    self.expect_type(&count_typed, Type::Int, count.span(), "SUBSTRING's count")?;
                    nullable |= count_typed.nullable;
                    args.push(count_typed.expr);
                }
                row(Typed::new(Expr::Call(Func::Substring, args), Type::Text, nullable))
            }
            ast::Expr::Trim { expr: inner, trim_where, trim_what, trim_characters } => {
                if trim_characters.is_some() {
                    return Err(self.error(span, "TRIM(text, characters) is not supported: TRIM(BOTH 'chars' FROM text)"));
                }
                let typed = self.compile(inner, scope)?;
                self.expect_type(&typed, Type::Text, inner.span(), "TRIM's text")?;
                let side = match trim_where {
                    Some(ast::TrimWhereField::Leading) => TrimSide::Leading,
                    Some(ast::TrimWhereField::Trailing) => TrimSide::Trailing,
                    _ => TrimSide::Both,
                };
                let chars = trim_what.as_deref().map(|w| self.text_literal(w, "TRIM's characters")).transpose()?;
                row(Typed::new(Expr::Call(Func::Trim(side, chars), vec![typed.expr]), Type::Text, typed.nullable))
            }
            ast::Expr::Function(function) => self.function(function, scope),
            other => Err(self.error(span, format!("{other} is not supported: expressions use columns, literals, arithmetic, comparisons, AND/OR/NOT, IS [NOT] NULL, BETWEEN, IN (list), LIKE, ~, CASE and the functions {FUNCTIONS}"))),
        }
    }

    fn column(&self, name: &str, qualifier: Option<&str>, span: Span, scope: &Scope<'_>) -> Result<Typed, SqlError> {
        let table = scope.table();
        if let (Some((column, size)), "window_start" | "window_end", None) = (self.window.get(), name, qualifier) {
            let func = if name == "window_start" { Func::WindowStart(size) } else { Func::WindowEnd(size) };
            return Ok(Typed::new(Expr::Call(func, vec![Expr::Column(column)]), Type::Timestamp, false));
        }
        if let Some(qualifier) = qualifier {
            if qualifier != table.name {
                return Err(self.error(span, format!("no table {qualifier} here: columns are of {}", table.name)));
            }
        }
        let Some(index) = table.column(name) else {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(self.error(span, format!("no column {name} in {} (columns: {})", table.name, names.join(", "))));
        };
        let column = &table.columns[index];
        let nullable = column.nullable && !matches!(scope, Scope::Row { now: false, .. } | Scope::Grouped { .. } if self.not_null.borrow().contains(&index));
        Ok(Typed::new(Expr::Column(index), column.ty, nullable))
    }

    fn value(&self, value: &ast::Value, span: Span) -> Result<Typed, SqlError> {
        Ok(match value {
            ast::Value::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => Typed::literal(Datum::Int(i), Type::Int),
                Err(_) => match n.parse::<f64>() {
                    Ok(f) if f.is_finite() => Typed::literal(Datum::float(f), Type::Float),
                    _ => return Err(self.error(span, format!("{n} is not a number rtds keeps (64-bit integer or float)"))),
                },
            },
            ast::Value::SingleQuotedString(s) => Typed::literal(Datum::text(s), Type::Text),
            ast::Value::Boolean(b) => Typed::literal(Datum::Bool(*b), Type::Bool),
            ast::Value::Null => Typed::literal(Datum::Null, Type::Text),
            other => return Err(self.error(span, format!("{other}: literals are numbers, 'text', TRUE/FALSE, NULL, TIMESTAMP '...' and INTERVAL '...'"))),
        })
    }

    fn text_literal(&self, expr: &ast::Expr, what: &str) -> Result<String, SqlError> {
        match expr {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => Ok(s.clone()),
                _ => Err(self.error(expr.span(), format!("{what} must be a quoted text literal"))),
            },
            _ => Err(self.error(expr.span(), format!("{what} must be a quoted text literal (it is compiled once, not per row)"))),
        }
    }

    /// An interval literal in milliseconds: `INTERVAL '5' SECOND` or `INTERVAL '5 seconds'`.
    fn interval(&self, interval: &ast::Interval, span: Span) -> Result<i64, SqlError> {
        let text = match &*interval.value {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                ast::Value::Number(n, _) => n.clone(),
                _ => return Err(self.error(span, "INTERVAL '<amount>' <unit>")),
            },
            _ => return Err(self.error(span, "INTERVAL '<amount>' <unit>")),
        };
        let (amount, unit) = match &interval.leading_field {
            Some(field) => (text.trim().to_string(), field.to_string().to_lowercase()),
            None => {
                let parts: Vec<&str> = text.split_whitespace().collect();
                if parts.len() > 2 {
                    return Err(self.error(span, format!("INTERVAL '{text}': one amount and one unit (add intervals for more: INTERVAL '1' DAY + INTERVAL '12' HOUR)")));
                }
                (parts.first().copied().unwrap_or_default().to_string(), parts.get(1).copied().unwrap_or("second").to_lowercase())
            }
        };
        let millis_per = match unit.trim_end_matches('s') {
            "millisecond" => 1,
            "second" => 1_000,
            "minute" => 60_000,
            "hour" => 3_600_000,
            "day" => 86_400_000,
            "week" => 7 * 86_400_000,
            _ => return Err(self.error(span, format!("INTERVAL unit {unit} is not supported (MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK; months and years have no fixed length)"))),
        };
        let amount: i64 = amount.parse().map_err(|_| self.error(span, format!("INTERVAL amount {amount} is not a whole number")))?;
        amount.checked_mul(millis_per).ok_or_else(|| self.error(span, "INTERVAL is too long"))
    }

    fn common_type(&self, items: Vec<Typed>, span: Span) -> Result<Vec<Typed>, SqlError> {
        let target = items
            .iter()
            .filter(|t| !t.null)
            .map(|t| t.ty)
            .reduce(|a, b| if a == b { a } else if a.is_numeric() && b.is_numeric() { Type::Float } else { a })
            .unwrap_or(Type::Text);
        items.into_iter().map(|t| self.coerce(t, target, span)).collect()
    }

    fn binary(&self, left: &ast::Expr, op: &ast::BinaryOperator, right: &ast::Expr, span: Span, scope: &mut Scope<'_>) -> Result<Typed, SqlError> {
        use ast::BinaryOperator as B;
        let a = self.compile(left, scope)?;
        let b = self.compile(right, scope)?;
        let nullable = a.nullable || b.nullable;
        let compare = |c: Compare| Some(c);
        let comparison = match op {
            B::Eq => compare(Compare::Eq),
            B::NotEq => compare(Compare::NotEq),
            B::Lt => compare(Compare::Lt),
            B::LtEq => compare(Compare::LtEq),
            B::Gt => compare(Compare::Gt),
            B::GtEq => compare(Compare::GtEq),
            _ => None,
        };
        if let Some(comparison) = comparison {
            let (a, b) = self.unify(a, b, span)?;
            if a.ty != b.ty {
                return Err(self.error(span, format!("cannot compare {} with {}", a.ty, b.ty)));
            }
            return Ok(Typed::new(Expr::Compare(comparison, Box::new(a.expr), Box::new(b.expr)), Type::Bool, nullable));
        }
        match op {
            B::And | B::Or => {
                self.expect_type(&a, Type::Bool, left.span(), &format!("{op}'s operands"))?;
                self.expect_type(&b, Type::Bool, right.span(), &format!("{op}'s operands"))?;
                let expr = if matches!(op, B::And) { Expr::And(Box::new(a.expr), Box::new(b.expr)) } else { Expr::Or(Box::new(a.expr), Box::new(b.expr)) };
                Ok(Typed::new(expr, Type::Bool, nullable))
            }
            B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
                self.expect_type(&a, Type::Text, left.span(), "a regular expression match's operand")?;
                let pattern = self.text_literal(right, "a regular expression")?;
                let insensitive = matches!(op, B::PGRegexIMatch | B::PGRegexNotIMatch);
                let regex = regex::Regex::new(&if insensitive { format!("(?i){pattern}") } else { pattern }).map_err(|e| self.error(right.span(), format!("regular expression: {e}")))?;
                let negated = matches!(op, B::PGRegexNotMatch | B::PGRegexNotIMatch);
                Ok(Typed::new(Expr::Matches { expr: Box::new(a.expr), regex, negated }, Type::Bool, a.nullable))
            }
            B::StringConcat => Ok(Typed::new(Expr::Arith(Arith::Concat, Box::new(a.expr), Box::new(b.expr)), Type::Text, nullable)),
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                let arith = match op {
                    B::Plus => Arith::Add,
                    B::Minus => Arith::Sub,
                    B::Multiply => Arith::Mul,
                    B::Divide => Arith::Div,
                    _ => Arith::Mod,
                };
                let ty = match (a.ty, b.ty, arith) {
                    (Type::Int, Type::Int, _) => Type::Int,
                    (x, y, _) if x.is_numeric() && y.is_numeric() => Type::Float,
                    (Type::Timestamp, Type::Interval, Arith::Add | Arith::Sub) | (Type::Interval, Type::Timestamp, Arith::Add) => Type::Timestamp,
                    (Type::Timestamp, Type::Timestamp, Arith::Sub) => Type::Interval,
                    (Type::Interval, Type::Interval, Arith::Add | Arith::Sub) => Type::Interval,
                    (x, y, _) => return Err(self.error(span, format!("{op} cannot apply to {x} and {y}"))),
                };
                let (a, b) = if ty == Type::Float { (self.coerce(a, Type::Float, left.span())?, self.coerce(b, Type::Float, right.span())?) } else { (a, b) };
                // Division by zero is NULL.
                let nullable = nullable || matches!(arith, Arith::Div | Arith::Mod);
                Ok(Typed::new(Expr::Arith(arith, Box::new(a.expr), Box::new(b.expr)), ty, nullable))
            }
            other => Err(self.error(span, format!("operator {other} is not supported"))),
        }
    }

    fn function(&self, function: &ast::Function, scope: &mut Scope<'_>) -> Result<Typed, SqlError> {
        let name = function_name(function);
        let span = function.span();
        if function.over.is_some() {
            return Err(self.error(span, format!("window functions ({name} ... OVER) are not supported")));
        }
        if function.filter.is_some() {
            return Err(self.error(span, "FILTER (WHERE ...) is not supported: use a CASE inside the aggregate"));
        }
        if AGGREGATES.contains(&name.as_str()) {
            let mut error = self.error(span, format!("aggregate {} is not allowed here: aggregates belong in a grouped view's SELECT list and HAVING, not in WHERE, GROUP BY, another aggregate or an expectation", name.to_uppercase()));
            error.aggregate = true;
            return Err(error);
        }
        if ["tumble", "hop", "session"].contains(&name.as_str()) {
            return Err(self.error(span, format!("windows ({}) are not supported yet", name.to_uppercase())));
        }
        let (args, distinct) = self.arguments(function)?;
        if distinct {
            return Err(self.error(span, "DISTINCT belongs in COUNT(DISTINCT x) only"));
        }
        let mut typed = Vec::new();
        for arg in &args {
            match arg {
                Some(arg) => typed.push(self.compile(arg, scope)?),
                None => return Err(self.error(span, format!("{}(*) is not a function; COUNT(*) counts rows", name.to_uppercase()))),
            }
        }
        let count = |n: std::ops::RangeInclusive<usize>| -> Result<(), SqlError> {
            if n.contains(&typed.len()) {
                Ok(())
            } else {
                Err(self.error(span, format!("{} takes {} arguments, and has {}", name.to_uppercase(), if n.start() == n.end() { n.start().to_string() } else { format!("{} to {}", n.start(), n.end()) }, typed.len())))
            }
        };
        let nullable = typed.iter().any(|t| t.nullable);
        let text = |t: &Typed, i: usize| self.expect_type(t, Type::Text, args[i].map(|a| a.span()).unwrap_or(span), &format!("{}'s argument {}", name.to_uppercase(), i + 1));
        let int = |t: &Typed, i: usize| self.expect_type(t, Type::Int, args[i].map(|a| a.span()).unwrap_or(span), &format!("{}'s argument {}", name.to_uppercase(), i + 1));
        let call = |func: Func, typed: Vec<Typed>, ty: Type, nullable: bool| Ok(Typed::new(Expr::Call(func, typed.into_iter().map(|t| t.expr).collect()), ty, nullable));
        match name.as_str() {
            "lower" | "upper" => {
                count(1..=1)?;
                text(&typed[0], 0)?;
                call(if name == "lower" { Func::Lower } else { Func::Upper }, typed, Type::Text, nullable)
            }
            "length" | "char_length" | "character_length" => {
                count(1..=1)?;
                text(&typed[0], 0)?;
                call(Func::Length, typed, Type::Int, nullable)
            }
            "concat" => call(Func::Concat, typed, Type::Text, false),
            "split_part" => {
                count(3..=3)?;
                text(&typed[0], 0)?;
                text(&typed[1], 1)?;
                int(&typed[2], 2)?;
                // NULL only for part 0 (or a NULL argument).
                let zero = matches!(typed[2].expr, Expr::Literal(Datum::Int(0)));
                call(Func::SplitPart, typed, Type::Text, nullable || zero)
            }
            "regexp_like" | "regexp_substr" => {
                count(2..=2)?;
                text(&typed[0], 0)?;
                let pattern = self.text_literal(args[1].expect("an argument"), "a regular expression")?;
                let regex = regex::Regex::new(&pattern).map_err(|e| self.error(span, format!("regular expression: {e}")))?;
                let subject = typed.into_iter().next().expect("an argument");
                if name == "regexp_like" {
                    Ok(Typed::new(Expr::Matches { expr: Box::new(subject.expr), regex, negated: false }, Type::Bool, subject.nullable))
                } else {
                    Ok(Typed::new(Expr::Call(Func::RegexpSubstr(regex), vec![subject.expr]), Type::Text, true))
                }
            }
            "date_trunc" => {
                count(2..=2)?;
                let unit_text = self.text_literal(args[0].expect("an argument"), "DATE_TRUNC's unit")?;
                let unit = match unit_text.to_lowercase().as_str() {
                    "year" => TimeUnit::Year,
                    "quarter" => TimeUnit::Quarter,
                    "month" => TimeUnit::Month,
                    "week" => TimeUnit::Week,
                    "day" => TimeUnit::Day,
                    "hour" => TimeUnit::Hour,
                    "minute" => TimeUnit::Minute,
                    "second" => TimeUnit::Second,
                    other => return Err(self.error(span, format!("DATE_TRUNC('{other}', ...): units are year, quarter, month, week, day, hour, minute, second"))),
                };
                let mut typed = typed;
                let ts = typed.pop().expect("two arguments");
                let ts = self.coerce(ts, Type::Timestamp, args[1].expect("an argument").span())?;
                let nullable = ts.nullable;
                typed.push(ts);
                call(Func::DateTrunc(unit), typed, Type::Timestamp, nullable)
            }
            "age" => {
                count(1..=1)?;
                let ts = self.coerce(typed.into_iter().next().expect("an argument"), Type::Timestamp, span)?;
                let nullable = ts.nullable;
                call(Func::Age, vec![ts], Type::Int, nullable)
            }
            "abs" => {
                count(1..=1)?;
                if !typed[0].ty.is_numeric() {
                    return Err(self.error(span, format!("ABS takes a number, not {}", typed[0].ty)));
                }
                let ty = typed[0].ty;
                call(Func::Abs, typed, ty, nullable)
            }
            "round" => {
                count(1..=2)?;
                if !typed[0].ty.is_numeric() {
                    return Err(self.error(span, format!("ROUND takes a number, not {}", typed[0].ty)));
                }
                if typed.len() == 2 {
                    int(&typed[1], 1)?;
                }
                let ty = typed[0].ty;
                call(Func::Round, typed, ty, nullable)
            }
            "coalesce" => {
                if typed.is_empty() {
                    return Err(self.error(span, "COALESCE takes one or more arguments"));
                }
                let typed = self.common_type(typed, span)?;
                let ty = typed[0].ty;
                let nullable = typed.iter().all(|t| t.nullable);
                Ok(Typed::new(Expr::Coalesce(typed.into_iter().map(|t| t.expr).collect()), ty, nullable))
            }
            "nullif" => {
                count(2..=2)?;
                let mut typed = typed.into_iter();
                let (a, b) = self.unify(typed.next().expect("two"), typed.next().expect("two"), span)?;
                let ty = a.ty;
                call(Func::NullIf, vec![a, b], ty, true)
            }
            "now" | "current_timestamp" => {
                count(0..=0)?;
                match scope {
                    Scope::Row { now: true, .. } => Ok(Typed::new(Expr::Now, Type::Timestamp, false)),
                    _ => Err(self.error(span, "NOW() is the record's commit time and is known to expectations only: a view's value may not depend on when it is computed")),
                }
            }
            _ => Err(self.error(function.name.span(), format!("unknown function {}: the functions are {FUNCTIONS}", name.to_uppercase()))),
        }
    }

    /// A function's arguments (`None` for `*`) and whether DISTINCT was written.
    fn arguments<'a>(&self, function: &'a ast::Function) -> Result<(Vec<Option<&'a ast::Expr>>, bool), SqlError> {
        match &function.args {
            ast::FunctionArguments::None => Ok((Vec::new(), false)),
            ast::FunctionArguments::Subquery(_) => Err(self.error(function.span(), "subqueries are not supported")),
            ast::FunctionArguments::List(list) => {
                if !list.clauses.is_empty() {
                    return Err(self.error(function.span(), format!("{}: clauses inside a call (ORDER BY, ...) are not supported", function.name)));
                }
                let mut args = Vec::new();
                for arg in &list.args {
                    match arg {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(Some(e)),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => args.push(None),
                        other => return Err(self.error(function.span(), format!("argument {other} is not supported"))),
                    }
                }
                Ok((args, matches!(list.duplicate_treatment, Some(ast::DuplicateTreatment::Distinct))))
            }
        }
    }

    /// An aggregate call in a grouped view: its argument compiled over the row, itself a
    /// column of the grouped row (after the group keys).
    fn aggregate(&self, function: &ast::Function, scope: &mut Scope<'_>) -> Result<Typed, SqlError> {
        let Scope::Grouped { table, groups, aggregates } = scope else { unreachable!("aggregates compile in the grouped scope") };
        let name = function_name(function);
        let span = function.span();
        if function.over.is_some() {
            return Err(self.error(span, format!("window functions ({} ... OVER) are not supported", name.to_uppercase())));
        }
        if function.filter.is_some() {
            return Err(self.error(span, "FILTER (WHERE ...) is not supported: use a CASE inside the aggregate"));
        }
        let (args, distinct) = self.arguments(function)?;
        let upper = name.to_uppercase();
        let argument = match args.as_slice() {
            [None] if name == "count" && !distinct => None,
            [Some(arg)] => {
                let typed = self.compile(arg, &mut Scope::Row { table, now: false })?;
                Some(typed)
            }
            _ => return Err(self.error(span, format!("{upper} takes one argument{}", if name == "count" { " (or *)" } else { "" }))),
        };
        if distinct && name != "count" {
            return Err(self.error(span, format!("{upper}(DISTINCT ...) is not supported: only COUNT takes DISTINCT")));
        }
        let (aggregate, result) = match (name.as_str(), argument) {
            ("count", None) => (Aggregate::CountRows, Typed::new(Expr::Literal(Datum::Null), Type::Int, false)),
            ("count", Some(arg)) if distinct => (Aggregate::CountDistinct(arg.expr), Typed::new(Expr::Literal(Datum::Null), Type::Int, false)),
            ("count", Some(arg)) => (Aggregate::Count(arg.expr), Typed::new(Expr::Literal(Datum::Null), Type::Int, false)),
            ("sum" | "avg", Some(arg)) => {
                if arg.ty != Type::Int {
                    return Err(self.error(span, format!(
                        "{upper} takes an integer (BIGINT) expression, and this is {}: sums are kept exactly, as integers{}",
                        arg.ty,
                        if arg.ty == Type::Float { "; CAST(x AS BIGINT) to sum whole numbers" } else { "" }
                    )));
                }
                let ty = if name == "sum" { Type::Int } else { Type::Float };
                let aggregate = if name == "sum" { Aggregate::Sum(arg.expr) } else { Aggregate::Avg(arg.expr) };
                (aggregate, Typed::new(Expr::Literal(Datum::Null), ty, true))
            }
            ("min" | "max", Some(arg)) => {
                if matches!(arg.ty, Type::Interval) {
                    return Err(self.error(span, format!("{upper} of an INTERVAL is not supported")));
                }
                let ty = arg.ty;
                (if name == "min" { Aggregate::Min(arg.expr) } else { Aggregate::Max(arg.expr) }, Typed::new(Expr::Literal(Datum::Null), ty, true))
            }
            _ => return Err(self.error(span, format!("{upper} takes one argument"))),
        };
        let key = format!("{aggregate:?}");
        let index = match aggregates.iter().position(|(_, _, k)| *k == key) {
            Some(index) => index,
            None => {
                aggregates.push((aggregate, result.clone(), key));
                aggregates.len() - 1
            }
        };
        Ok(Typed::new(Expr::Column(groups.len() + index), result.ty, result.nullable))
    }
}

/// The columns a `WHERE` keeps only when not NULL: its top-level `AND`ed `c IS NOT NULL`.
fn not_null_columns(filter: &ast::Expr, table: &Table) -> Vec<usize> {
    match filter {
        ast::Expr::BinaryOp { left, op: ast::BinaryOperator::And, right } => {
            let mut columns = not_null_columns(left, table);
            columns.extend(not_null_columns(right, table));
            columns
        }
        ast::Expr::Nested(inner) => not_null_columns(inner, table),
        ast::Expr::IsNotNull(inner) => match &**inner {
            ast::Expr::Identifier(name) => table.column(&ident(name)).into_iter().collect(),
            ast::Expr::CompoundIdentifier(parts) => parts.last().and_then(|name| table.column(&ident(name))).into_iter().collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// An identifier as SQL reads it: folded to lower case unless quoted.
/// A `WITH (...)` option's key, lower case (`a.b` for a dotted one).
fn option_key(key: &ast::ObjectName) -> String {
    key.0.iter().map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_default()).collect::<Vec<_>>().join(".").to_lowercase()
}

/// The value of `WITH (...)` option `key`.
fn option_value<'a>(options: &'a ast::CreateTableOptions, key: &str) -> Option<&'a ast::Expr> {
    let ast::CreateTableOptions::With(list) = options else { return None };
    list.iter().find_map(|option| match option {
        ast::SqlOption::KeyValue { key: k, value } if option_key(k) == key => Some(value),
        _ => None,
    })
}

fn ident(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() }
}

fn object_name_text(name: &ast::ObjectName) -> String {
    name.0.iter().filter_map(|p| p.as_ident()).map(ident).collect::<Vec<_>>().join(".")
}

fn function_name(function: &ast::Function) -> String {
    object_name_text(&function.name)
}

/// The rtds type of a SQL type name.
fn sql_type(data_type: &ast::DataType) -> Option<Type> {
    use ast::DataType as D;
    Some(match data_type {
        D::Uuid => Type::Uuid,
        D::Text | D::Varchar(_) | D::CharacterVarying(_) | D::String(_) | D::Char(_) | D::Character(_) => Type::Text,
        D::BigInt(_) | D::Int(_) | D::Integer(_) | D::SmallInt(_) | D::Int8(_) | D::Int4(_) | D::Int2(_) | D::Int64 => Type::Int,
        D::Double(_) | D::DoublePrecision | D::Float(_) | D::Real | D::Float8 | D::Float4 | D::Float64 => Type::Float,
        D::Boolean | D::Bool => Type::Bool,
        D::Timestamp(_, _) | D::TimestampNtz(_) => Type::Timestamp,
        D::Interval { .. } => Type::Interval,
        _ => return None,
    })
}

fn time_unit(field: &ast::DateTimeField) -> Option<TimeUnit> {
    use ast::DateTimeField as F;
    Some(match field {
        F::Year | F::Years => TimeUnit::Year,
        F::Quarter => TimeUnit::Quarter,
        F::Month | F::Months => TimeUnit::Month,
        F::Week(_) | F::Weeks => TimeUnit::Week,
        F::Day | F::Days => TimeUnit::Day,
        F::Hour | F::Hours => TimeUnit::Hour,
        F::Minute | F::Minutes => TimeUnit::Minute,
        F::Second | F::Seconds => TimeUnit::Second,
        F::Dow | F::DayOfWeek => TimeUnit::DayOfWeek,
        F::Doy | F::DayOfYear => TimeUnit::DayOfYear,
        F::Epoch => TimeUnit::Epoch,
        _ => return None,
    })
}

