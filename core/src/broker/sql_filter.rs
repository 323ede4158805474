//! SQL92 property filters (`expressionType=SQL92`), with the grammar and evaluation rules of
//! RocketMQ 4.9's `filter` module (the JMS-selector dialect it inherited from ActiveMQ).
//!
//! # Grammar
//!
//! ```text
//! expression  := or
//! or          := and ( OR and )*
//! and         := not ( AND not )*
//! not         := NOT not | equality
//! equality    := relational ( ( '=' | '<>' ) relational | IS [NOT] NULL )*
//! relational  := unary ( ( '>' | '>=' | '<' | '<=' ) unary
//!                      | [NOT] BETWEEN unary AND unary
//!                      | [NOT] IN '(' string ( ',' string )* ')' )*
//! unary       := ( '+' | '-' ) unary | primary
//! primary     := string | integer | decimal | TRUE | FALSE | NULL | identifier | '(' or ')'
//! ```
//!
//! * Keywords (`NOT AND OR BETWEEN IN IS NULL TRUE FALSE`) are case-insensitive and reserved.
//! * Identifiers name message properties: `[A-Za-z_$][A-Za-z0-9_$]*`, case-sensitive.
//! * Strings are single-quoted; `''` inside one stands for a quote.
//! * Integers are decimal longs, optionally suffixed `L` (no leading zeros); decimals are
//!   doubles (`1.5`, `1.`, `.5`, `1e3`, `1.5E-2`).
//! * `-- comment` to end of line and `/* comment */` are skipped.
//! * `CONTAINS`, `STARTSWITH` and `ENDSWITH` only appeared in RocketMQ 5.1.3; 4.9 has none of
//!   them, so neither does this filter (`contains` stays an ordinary property name).
//!
//! # Evaluation (three-valued logic, as RocketMQ)
//!
//! * A property is its string value, or NULL (unknown) when the message lacks it.
//! * A message matches only if the whole expression evaluates to TRUE; NULL or FALSE filters it
//!   out. `AND`/`OR`/`NOT` follow SQL's three-valued truth tables.
//! * A string compared with a number is parsed as a number: as a long when it is one and the
//!   number is a long, else as a double (Java's `Double.valueOf` syntax). Compared with
//!   TRUE/FALSE it is true when it equals `true` ignoring case. Two strings compare as text
//!   under `=`/`<>`. `x = y` is NULL if `x` is NULL and `y` is not (TRUE if both are).
//! * `> >= < <=` and `BETWEEN` accept only numbers: literals must be numeric (checked when
//!   compiling); two strings are both parsed as doubles.
//! * `IN` needs a property on its left and string literals in its list; a missing property gives
//!   NULL, so neither `IN` nor `NOT IN` matches it. `IS [NOT] NULL` is never NULL itself.
//! * A property used directly as a condition (`a`, `a AND b = 1`) is never TRUE: its value is a
//!   string.
//! * When a property's value cannot be converted as a comparison requires, RocketMQ raises an
//!   error and the broker filters the message out; so does this filter, whatever the rest of
//!   the expression says (`a > 5 OR TRUE` drops a message whose `a` is `abc`).
//!
//! Deliberate differences from RocketMQ 4.9, all of them about accepting what it wrongly
//! rejects: `NOT` applies to a whole comparison (`NOT a = 1` means `NOT (a = 1)`, which 4.9
//! parses as `(NOT a) = 1`, which never matches), integer literals are longs throughout (4.9
//! narrows small ones to `int`, so a property like `3000000000` fails against `a > 1`), a
//! property that is not a long is compared with an integer literal as a double (4.9 fails, so
//! `a BETWEEN 0.5 AND 2` never matched `a = 1.5`), the literal `0.0` is accepted, and
//! `TRUE = prop` compares like `prop = TRUE` (4.9 fails with a class cast). Java's hexadecimal
//! floating-point strings (`0x1p3`) are not parsed as numbers.
//!
//! Expressions are bounded: at most 4096 bytes, 32 levels of parentheses, `NOT`s and signs, and
//! 128 levels of operators, so a hostile subscription cannot exhaust the stack.

use std::cmp::Ordering;
use std::collections::HashMap;

/// Longest expression accepted, in bytes.
const MAX_EXPRESSION_LEN: usize = 4096;
/// Deepest nesting of parentheses, `NOT`s and unary signs accepted.
const MAX_NESTING: usize = 32;
/// Deepest expression tree accepted (comparison chains such as `a = 1 = TRUE` add levels
/// without nesting).
const MAX_TREE_HEIGHT: usize = 128;

#[derive(Debug, Clone)]
pub struct SqlFilter {
    root: Expr,
}

impl SqlFilter {
    /// Compiles an expression, or explains why it is not valid (positions in the message count
    /// characters from 1).
    pub fn compile(expression: &str) -> Result<SqlFilter, String> {
        if expression.len() > MAX_EXPRESSION_LEN {
            return Err(format!(
                "expression too long: {} bytes (at most {MAX_EXPRESSION_LEN})",
                expression.len()
            ));
        }
        let chars: Vec<char> = expression.chars().collect();
        let tokens = lex(&chars)?;
        if tokens.len() == 1 {
            return Err("empty expression".to_string());
        }
        let mut parser = Parser {
            chars: &chars,
            tokens,
            at: 0,
            depth: 0,
        };
        let expr = parser.parse_or()?;
        match parser.peek().kind {
            Tok::Eof => {}
            Tok::RParen => {
                return Err(syntax_error(
                    parser.peek().start,
                    "unbalanced ')' (no matching '(')",
                ))
            }
            _ => return Err(parser.expected("an operator or the end of the expression")),
        }
        let root = parser.as_boolean(expr, 0)?;
        if height(&root) > MAX_TREE_HEIGHT {
            return Err(format!(
                "expression too complex: more than {MAX_TREE_HEIGHT} levels of operators"
            ));
        }
        Ok(SqlFilter { root })
    }

    /// Whether a message with these properties passes: the expression must evaluate to TRUE.
    pub fn matches(&self, properties: &HashMap<String, String>) -> bool {
        matches!(self.root.eval(properties), Ok(Val::Bool(true)))
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Not,
    And,
    Or,
    Between,
    In,
    Is,
    Null,
    True,
    False,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Long(i64),
    Double(f64),
    Kw(Kw),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Plus,
    Minus,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    /// Offsets in characters, `start` inclusive, `end` exclusive.
    start: usize,
    end: usize,
}

fn syntax_error(start: usize, msg: impl std::fmt::Display) -> String {
    format!("syntax error at position {}: {msg}", start + 1)
}

fn invalid_error(start: usize, msg: impl std::fmt::Display) -> String {
    format!("invalid expression at position {}: {msg}", start + 1)
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_ident_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

fn keyword(word: &str) -> Option<Kw> {
    const KEYWORDS: [(&str, Kw); 9] = [
        ("NOT", Kw::Not),
        ("AND", Kw::And),
        ("OR", Kw::Or),
        ("BETWEEN", Kw::Between),
        ("IN", Kw::In),
        ("IS", Kw::Is),
        ("NULL", Kw::Null),
        ("TRUE", Kw::True),
        ("FALSE", Kw::False),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|&(_, kw)| kw)
}

fn lex(chars: &[char]) -> Result<Vec<Token>, String> {
    let n = chars.len();
    let at = |i: usize| chars.get(i).copied();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let start = i;
        let kind = match c {
            ' ' | '\t' | '\n' | '\r' | '\x0c' => {
                i += 1;
                continue;
            }
            '-' if at(i + 1) == Some('-') => {
                while i < n && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
                continue;
            }
            '/' if at(i + 1) == Some('*') => {
                i += 2;
                loop {
                    if i + 1 >= n {
                        return Err(syntax_error(start, "unterminated comment"));
                    }
                    if chars[i] == '*' && chars[i + 1] == '/' {
                        i += 2;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' if at(i + 1) == Some('=') => return Err(unexpected_char(chars, i)),
            '=' => {
                i += 1;
                Tok::Eq
            }
            '+' => {
                i += 1;
                Tok::Plus
            }
            '-' => {
                i += 1;
                Tok::Minus
            }
            '<' => match at(i + 1) {
                Some('>') => {
                    i += 2;
                    Tok::Ne
                }
                Some('=') => {
                    i += 2;
                    Tok::Le
                }
                _ => {
                    i += 1;
                    Tok::Lt
                }
            },
            '>' => {
                if at(i + 1) == Some('=') {
                    i += 2;
                    Tok::Ge
                } else {
                    i += 1;
                    Tok::Gt
                }
            }
            '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match at(i) {
                        None => return Err(syntax_error(start, "unterminated string literal")),
                        Some('\'') if at(i + 1) == Some('\'') => {
                            value.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            value.push(ch);
                            i += 1;
                        }
                    }
                }
                Tok::Str(value)
            }
            c if c.is_ascii_digit()
                || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let (kind, end) = lex_number(chars, i)?;
                i = end;
                kind
            }
            c if is_ident_start(c) => {
                while i < n && is_ident_part(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match keyword(&word) {
                    Some(kw) => Tok::Kw(kw),
                    None => Tok::Ident(word),
                }
            }
            _ => return Err(unexpected_char(chars, i)),
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens.push(Token {
        kind: Tok::Eof,
        start: n,
        end: n,
    });
    Ok(tokens)
}

fn unexpected_char(chars: &[char], i: usize) -> String {
    let next = chars.get(i + 1).copied();
    let msg = match (chars[i], next) {
        ('!', Some('=')) => "unknown operator '!=' (use '<>')".to_string(),
        ('=', Some('=')) => "unknown operator '==' (use '=')".to_string(),
        ('&', Some('&')) => "unknown operator '&&' (use AND)".to_string(),
        ('|', Some('|')) => "unknown operator '||' (use OR)".to_string(),
        ('"', _) => "unexpected character '\"' (strings are written in single quotes)".to_string(),
        (c, _) => format!("unexpected character '{c}'"),
    };
    syntax_error(i, msg)
}

/// Lexes the number starting at `start`; returns its token and the offset after it.
fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let n = chars.len();
    let digits_from = |mut i: usize| {
        while i < n && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits_from(start);
    let mut i = int_end;
    let mut frac = None;
    if i < n && chars[i] == '.' {
        let end = digits_from(i + 1);
        frac = Some((i + 1, end));
        i = end;
    }
    let mut exponent = None;
    if i < n && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < n && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < n && chars[j].is_ascii_digit() {
            let end = digits_from(j);
            exponent = Some((i + 1, end));
            i = end;
        }
    }
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    if frac.is_some() || exponent.is_some() {
        // Normalise to `int.frac[e exp]` with no empty parts before handing it to Rust.
        let mut normal = text(start, int_end);
        if normal.is_empty() {
            normal.push('0');
        }
        normal.push('.');
        match frac {
            Some((from, to)) if to > from => normal.push_str(&text(from, to)),
            _ => normal.push('0'),
        }
        if let Some((from, to)) = exponent {
            normal.push('e');
            normal.push_str(&text(from, to));
        }
        let value: f64 = normal
            .parse()
            .map_err(|_| syntax_error(start, format!("invalid number '{}'", text(start, i))))?;
        if !value.is_finite() {
            return Err(syntax_error(
                start,
                format!("number '{}' is out of range", text(start, i)),
            ));
        }
        return Ok((Tok::Double(value), i));
    }
    let digits = text(start, int_end);
    if i < n && (chars[i] == 'l' || chars[i] == 'L') {
        i += 1;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(syntax_error(
            start,
            format!(
                "invalid number '{}' (leading zeros are not allowed)",
                text(start, i)
            ),
        ));
    }
    let value: i64 = digits.parse().map_err(|_| {
        syntax_error(
            start,
            format!("integer '{}' is out of the range of a long", text(start, i)),
        )
    })?;
    Ok((Tok::Long(value), i))
}

// ---------------------------------------------------------------------------------------------
// Syntax tree
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Str(String),
}

impl Lit {
    fn val(&self) -> Val<'_> {
        match self {
            Lit::Null => Val::Null,
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Long(n) => Val::Long(*n),
            Lit::Double(d) => Val::Double(*d),
            Lit::Str(s) => Val::Str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

#[derive(Debug, Clone)]
enum Expr {
    Lit(Lit),
    Prop(String),
    /// Unary minus on something that is not a numeric literal.
    Neg(Box<Expr>),
    /// A property used as a condition.
    BoolCast(Box<Expr>),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Between {
        value: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    In {
        property: String,
        list: Vec<String>,
        negated: bool,
    },
}

impl Expr {
    /// Whether the expression yields TRUE/FALSE/NULL (RocketMQ's `BooleanExpression`; the
    /// `NULL` literal counts, as in RocketMQ).
    fn is_boolean(&self) -> bool {
        match self {
            Expr::Lit(lit) => matches!(lit, Lit::Null | Lit::Bool(_)),
            Expr::Prop(_) | Expr::Neg(_) => false,
            _ => true,
        }
    }

    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Lit(_) | Expr::Prop(_) | Expr::In { .. } => Vec::new(),
            Expr::Neg(e) | Expr::BoolCast(e) | Expr::Not(e) | Expr::IsNull(e) => vec![e],
            Expr::And(items) | Expr::Or(items) => items.iter().collect(),
            Expr::Eq(l, r) | Expr::Cmp(_, l, r) => vec![l, r],
            Expr::Between {
                value, low, high, ..
            } => vec![value, low, high],
        }
    }
}

/// Height of the tree, computed without recursion.
fn height(root: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((e, h)) = stack.pop() {
        max = max.max(h);
        stack.extend(e.children().into_iter().map(|c| (c, h + 1)));
    }
    max
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser<'s> {
    chars: &'s [char],
    tokens: Vec<Token>,
    /// Index of the next token.
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn peek_kind(&self, ahead: usize) -> &Tok {
        let i = (self.at + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].kind
    }

    fn at_kw(&self, kw: Kw) -> bool {
        self.peek().kind == Tok::Kw(kw)
    }

    fn advance(&mut self) {
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
    }

    /// Source text of tokens `from..self.at`, quoted and shortened for messages.
    fn text_from(&self, from: usize) -> String {
        self.text_from_to(from, self.at)
    }

    /// Source text of tokens `from..to`, quoted (a lone string literal keeps its own quotes)
    /// and shortened for messages.
    fn text_from_to(&self, from: usize, to: usize) -> String {
        let to = to.max(from + 1);
        let start = self.tokens[from].start;
        let end = self.tokens[to - 1].end.max(start);
        let text = shorten(self.chars[start..end].iter().collect());
        if to - from == 1 && matches!(self.tokens[from].kind, Tok::Str(_)) {
            text
        } else {
            format!("'{text}'")
        }
    }

    fn describe(&self, index: usize) -> String {
        if self.tokens[index].kind == Tok::Eof {
            "the end of the expression".to_string()
        } else {
            self.text_from_to(index, index + 1)
        }
    }

    fn expected(&self, what: &str) -> String {
        let token = self.peek();
        syntax_error(
            token.start,
            format!("expected {what} but found {}", self.describe(self.at)),
        )
    }

    fn invalid_at(&self, from: usize, msg: impl std::fmt::Display) -> String {
        invalid_error(self.tokens[from].start, msg)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(syntax_error(
                self.peek().start,
                format!("expression nested too deeply (more than {MAX_NESTING} levels)"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// RocketMQ's `asBooleanExpression`: conditions must be boolean, or a property (which is
    /// then tested for being TRUE).
    fn as_boolean(&self, e: Expr, from: usize) -> Result<Expr, String> {
        if e.is_boolean() {
            Ok(e)
        } else if let Expr::Prop(_) = e {
            Ok(Expr::BoolCast(Box::new(e)))
        } else {
            Err(self.invalid_at(
                from,
                format!(
                    "{} is not a condition (it has no TRUE/FALSE value)",
                    self.text_from(from)
                ),
            ))
        }
    }

    fn parse_or(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let from = self.at;
        let first = self.parse_and()?;
        if !self.at_kw(Kw::Or) {
            self.leave();
            return Ok(first);
        }
        let mut items = vec![self.as_boolean(first, from)?];
        while self.at_kw(Kw::Or) {
            self.advance();
            let from = self.at;
            let e = self.parse_and()?;
            items.push(self.as_boolean(e, from)?);
        }
        self.leave();
        Ok(Expr::Or(items))
    }

    fn parse_and(&mut self) -> Result<Expr, String> {
        let from = self.at;
        let first = self.parse_not()?;
        if !self.at_kw(Kw::And) {
            return Ok(first);
        }
        let mut items = vec![self.as_boolean(first, from)?];
        while self.at_kw(Kw::And) {
            self.advance();
            let from = self.at;
            let e = self.parse_not()?;
            items.push(self.as_boolean(e, from)?);
        }
        Ok(Expr::And(items))
    }

    fn parse_not(&mut self) -> Result<Expr, String> {
        if !self.at_kw(Kw::Not) {
            return self.parse_equality();
        }
        self.advance();
        self.enter()?;
        let from = self.at;
        let inner = self.parse_not()?;
        let inner = self.as_boolean(inner, from)?;
        self.leave();
        Ok(Expr::Not(Box::new(inner)))
    }

    fn parse_equality(&mut self) -> Result<Expr, String> {
        let from = self.at;
        let mut left = self.parse_relational()?;
        loop {
            match self.peek().kind {
                Tok::Eq | Tok::Ne => {
                    let negated = self.peek().kind == Tok::Ne;
                    let symbol = if negated { "<>" } else { "=" };
                    self.advance();
                    let right_from = self.at;
                    let right = self.parse_relational()?;
                    self.check_equality_operand(&left, from, symbol)?;
                    self.check_equality_operand(&right, right_from, symbol)?;
                    if let (Expr::Lit(Lit::Bool(_)), Expr::Lit(r)) = (&left, &right) {
                        if !matches!(r, Lit::Bool(_)) {
                            return Err(self.invalid_at(
                                from,
                                format!(
                                    "a boolean cannot be compared with {}",
                                    self.text_from(right_from)
                                ),
                            ));
                        }
                    }
                    let eq = Expr::Eq(Box::new(left), Box::new(right));
                    left = if negated { Expr::Not(Box::new(eq)) } else { eq };
                }
                Tok::Kw(Kw::Is) => {
                    self.advance();
                    let negated = self.at_kw(Kw::Not);
                    if negated {
                        self.advance();
                    }
                    if !self.at_kw(Kw::Null) {
                        return Err(self.expected(if negated {
                            "NULL after IS NOT"
                        } else {
                            "NULL or NOT NULL after IS"
                        }));
                    }
                    self.advance();
                    let is_null = Expr::IsNull(Box::new(left));
                    left = if negated {
                        Expr::Not(Box::new(is_null))
                    } else {
                        is_null
                    };
                }
                _ => return Ok(left),
            }
        }
    }

    fn check_equality_operand(&self, e: &Expr, from: usize, symbol: &str) -> Result<(), String> {
        if let Expr::Lit(Lit::Null) = e {
            return Err(self.invalid_at(
                from,
                format!("NULL cannot be compared with '{symbol}' (use IS NULL or IS NOT NULL)"),
            ));
        }
        Ok(())
    }

    /// RocketMQ's `checkLessThanOperand`: only numbers can be ordered.
    fn check_numeric_operand(
        &self,
        e: &Expr,
        (from, to): (usize, usize),
        what: &str,
    ) -> Result<(), String> {
        let ok = match e {
            Expr::Lit(lit) => matches!(lit, Lit::Long(_) | Lit::Double(_)),
            _ => !e.is_boolean(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.invalid_at(
                from,
                format!(
                    "{} cannot be compared with {what} (only numbers and properties can)",
                    self.text_from_to(from, to)
                ),
            ))
        }
    }

    fn parse_relational(&mut self) -> Result<Expr, String> {
        let from = self.at;
        let mut left = self.parse_unary()?;
        loop {
            let op = match self.peek().kind {
                Tok::Gt => CmpOp::Gt,
                Tok::Ge => CmpOp::Ge,
                Tok::Lt => CmpOp::Lt,
                Tok::Le => CmpOp::Le,
                Tok::Kw(Kw::Between) => {
                    let op_at = self.at;
                    self.advance();
                    left = self.parse_between(left, (from, op_at), false)?;
                    continue;
                }
                Tok::Kw(Kw::In) => {
                    let op_at = self.at;
                    self.advance();
                    left = self.parse_in(left, from, op_at, false)?;
                    continue;
                }
                Tok::Kw(Kw::Not) => {
                    match self.peek_kind(1) {
                        Tok::Kw(Kw::Between) => {
                            let op_at = self.at;
                            self.advance();
                            self.advance();
                            left = self.parse_between(left, (from, op_at), true)?;
                        }
                        Tok::Kw(Kw::In) => {
                            let op_at = self.at;
                            self.advance();
                            self.advance();
                            left = self.parse_in(left, from, op_at, true)?;
                        }
                        _ => {
                            self.advance();
                            return Err(self.expected("BETWEEN or IN after NOT"));
                        }
                    }
                    continue;
                }
                _ => return Ok(left),
            };
            let op_at = self.at;
            self.advance();
            let right_from = self.at;
            let right = self.parse_unary()?;
            let what = format!("'{}'", op.symbol());
            self.check_numeric_operand(&left, (from, op_at), &what)?;
            self.check_numeric_operand(&right, (right_from, self.at), &what)?;
            left = Expr::Cmp(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_between(
        &mut self,
        value: Expr,
        value_span: (usize, usize),
        negated: bool,
    ) -> Result<Expr, String> {
        let what = if negated { "NOT BETWEEN" } else { "BETWEEN" };
        let low_from = self.at;
        let low = self.parse_unary()?;
        if !self.at_kw(Kw::And) {
            return Err(self.expected(&format!("AND in {what}")));
        }
        let and_at = self.at;
        self.advance();
        let high_from = self.at;
        let high = self.parse_unary()?;
        self.check_numeric_operand(&value, value_span, what)?;
        self.check_numeric_operand(&low, (low_from, and_at), what)?;
        self.check_numeric_operand(&high, (high_from, self.at), what)?;
        if let (false, Expr::Lit(l), Expr::Lit(h)) = (negated, &low, &high) {
            if java_compare(h.val(), l.val()).is_ok_and(|o| o == Ordering::Less) {
                return Err(self.invalid_at(
                    low_from,
                    format!(
                        "BETWEEN's lower bound {} is greater than its upper bound {}",
                        self.text_from_to(low_from, and_at),
                        self.text_from(high_from)
                    ),
                ));
            }
        }
        Ok(Expr::Between {
            value: Box::new(value),
            low: Box::new(low),
            high: Box::new(high),
            negated,
        })
    }

    fn parse_in(
        &mut self,
        left: Expr,
        from: usize,
        op_at: usize,
        negated: bool,
    ) -> Result<Expr, String> {
        let what = if negated { "NOT IN" } else { "IN" };
        let Expr::Prop(property) = left else {
            return Err(self.invalid_at(
                from,
                format!(
                    "{what} needs a property on its left, not {}",
                    self.text_from_to(from, op_at)
                ),
            ));
        };
        if self.peek().kind != Tok::LParen {
            return Err(self.expected(&format!("'(' after {what}")));
        }
        self.advance();
        let mut list = Vec::new();
        loop {
            match &self.peek().kind {
                Tok::Str(s) => {
                    list.push(s.clone());
                    self.advance();
                }
                _ => return Err(self.expected(&format!("a string literal in the {what} list"))),
            }
            match self.peek().kind {
                Tok::Comma => self.advance(),
                Tok::RParen => {
                    self.advance();
                    break;
                }
                _ => return Err(self.expected(&format!("',' or ')' in the {what} list"))),
            }
        }
        Ok(Expr::In {
            property,
            list,
            negated,
        })
    }

    fn parse_unary(&mut self) -> Result<Expr, String> {
        let negate = match self.peek().kind {
            Tok::Plus => false,
            Tok::Minus => true,
            _ => return self.parse_primary(),
        };
        self.advance();
        self.enter()?;
        let inner = self.parse_unary()?;
        self.leave();
        if !negate {
            return Ok(inner);
        }
        Ok(match inner {
            Expr::Lit(Lit::Long(n)) => Expr::Lit(Lit::Long(n.wrapping_neg())),
            Expr::Lit(Lit::Double(d)) => Expr::Lit(Lit::Double(-d)),
            other => Expr::Neg(Box::new(other)),
        })
    }

    fn parse_primary(&mut self) -> Result<Expr, String> {
        let e = match &self.peek().kind {
            Tok::Str(s) => Expr::Lit(Lit::Str(s.clone())),
            Tok::Long(n) => Expr::Lit(Lit::Long(*n)),
            Tok::Double(d) => Expr::Lit(Lit::Double(*d)),
            Tok::Kw(Kw::True) => Expr::Lit(Lit::Bool(true)),
            Tok::Kw(Kw::False) => Expr::Lit(Lit::Bool(false)),
            Tok::Kw(Kw::Null) => Expr::Lit(Lit::Null),
            Tok::Ident(name) => Expr::Prop(name.clone()),
            Tok::LParen => {
                let open = self.peek().start;
                self.advance();
                let e = self.parse_or()?;
                if self.peek().kind != Tok::RParen {
                    let mut msg = self.expected("')'");
                    if self.peek().kind == Tok::Eof {
                        msg.push_str(&format!(" (to close the '(' at position {})", open + 1));
                    }
                    return Err(msg);
                }
                self.advance();
                return Ok(e);
            }
            _ => return Err(self.expected("a property, a literal or '('")),
        };
        self.advance();
        Ok(e)
    }
}

fn shorten(text: String) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push_str("...");
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

/// A value could not be converted as a comparison requires; RocketMQ throws, and the broker
/// then filters the message out.
#[derive(Debug)]
struct EvalError;

type Eval<'a> = Result<Val<'a>, EvalError>;

/// Java's `Long.valueOf(String)`.
fn java_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| EvalError)
}

/// Java's `Double.valueOf(String)` for decimal notation: surrounding whitespace and control
/// characters are ignored, `NaN`/`Infinity` and a trailing `f`/`d` are accepted.
fn java_double(s: &str) -> Result<f64, EvalError> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let value = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
            if !is_decimal_notation(body) {
                return Err(EvalError);
            }
            body.parse().map_err(|_| EvalError)?
        }
    };
    let value = if negative { -value } else { value };
    Ok(if value.is_nan() { f64::NAN } else { value })
}

/// `digits [. digits] [(e|E) [+|-] digits]`, at least one mantissa digit.
fn is_decimal_notation(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Java's `Double.compare` (NaN equals itself and is above everything; -0.0 < 0.0).
fn java_double_cmp(a: f64, b: f64) -> Ordering {
    let canonical = |x: f64| if x.is_nan() { f64::NAN } else { x };
    canonical(a).total_cmp(&canonical(b))
}

/// Java's `String.compareTo`: UTF-16 code unit order.
fn java_str_cmp(a: &str, b: &str) -> Ordering {
    if a == b {
        Ordering::Equal
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// RocketMQ's `ComparisonExpression.__compare` with string conversion on: a string meeting a
/// number or a boolean is converted to that type; other mixes compare as "less".
fn java_compare(a: Val<'_>, b: Val<'_>) -> Result<Ordering, EvalError> {
    use Val::*;
    Ok(match (a, b) {
        (Bool(x), Bool(y)) => x.cmp(&y),
        (Long(x), Long(y)) => x.cmp(&y),
        (Double(x), Double(y)) => java_double_cmp(x, y),
        (Str(x), Str(y)) => java_str_cmp(x, y),
        (Long(x), Double(y)) => java_double_cmp(x as f64, y),
        (Double(x), Long(y)) => java_double_cmp(x, y as f64),
        (Long(x), Str(s)) => long_vs_str(x, s)?,
        (Str(s), Long(y)) => long_vs_str(y, s)?.reverse(),
        (Double(x), Str(s)) => java_double_cmp(x, java_double(s)?),
        (Str(s), Double(y)) => java_double_cmp(java_double(s)?, y),
        (Str(s), Bool(y)) => s.eq_ignore_ascii_case("true").cmp(&y),
        (Bool(x), Str(s)) => x.cmp(&s.eq_ignore_ascii_case("true")),
        _ => Ordering::Less,
    })
}

/// A long against a string: the string as a long if it is one (RocketMQ), else as a double
/// (where RocketMQ fails).
fn long_vs_str(x: i64, s: &str) -> Result<Ordering, EvalError> {
    match java_long(s) {
        Ok(y) => Ok(x.cmp(&y)),
        Err(_) => Ok(java_double_cmp(x as f64, java_double(s)?)),
    }
}

impl Expr {
    fn eval<'a>(&'a self, props: &'a HashMap<String, String>) -> Eval<'a> {
        Ok(match self {
            Expr::Lit(lit) => lit.val(),
            Expr::Prop(name) => props.get(name).map_or(Val::Null, |v| Val::Str(v)),
            Expr::Neg(e) => match e.eval(props)? {
                Val::Long(n) => Val::Long(n.wrapping_neg()),
                Val::Double(d) => Val::Double(-d),
                _ => Val::Null,
            },
            Expr::BoolCast(e) => match e.eval(props)? {
                Val::Null => Val::Null,
                Val::Bool(b) => Val::Bool(b),
                _ => Val::Bool(false),
            },
            Expr::Not(e) => match e.eval(props)? {
                Val::Null => Val::Null,
                Val::Bool(b) => Val::Bool(!b),
                _ => return Err(EvalError),
            },
            Expr::And(items) => {
                let mut unknown = false;
                for item in items {
                    match item.eval(props)? {
                        Val::Bool(false) => return Ok(Val::Bool(false)),
                        Val::Bool(true) => {}
                        Val::Null => unknown = true,
                        _ => return Err(EvalError),
                    }
                }
                if unknown {
                    Val::Null
                } else {
                    Val::Bool(true)
                }
            }
            Expr::Or(items) => {
                let mut unknown = false;
                for item in items {
                    match item.eval(props)? {
                        Val::Bool(true) => return Ok(Val::Bool(true)),
                        Val::Bool(false) => {}
                        Val::Null => unknown = true,
                        _ => return Err(EvalError),
                    }
                }
                if unknown {
                    Val::Null
                } else {
                    Val::Bool(false)
                }
            }
            Expr::Eq(l, r) => match (l.eval(props)?, r.eval(props)?) {
                (Val::Null, Val::Null) => Val::Bool(true),
                (Val::Null, _) => Val::Null,
                (_, Val::Null) => Val::Bool(false),
                (a, b) => Val::Bool(java_compare(a, b)? == Ordering::Equal),
            },
            Expr::IsNull(e) => Val::Bool(e.eval(props)? == Val::Null),
            Expr::Cmp(op, l, r) => eval_cmp(*op, l, r, props)?,
            Expr::Between {
                value,
                low,
                high,
                negated: false,
            } => {
                // value >= low AND value <= high, short-circuiting like RocketMQ's AND.
                let first = eval_cmp(CmpOp::Ge, value, low, props)?;
                if first == Val::Bool(false) {
                    return Ok(first);
                }
                match eval_cmp(CmpOp::Le, value, high, props)? {
                    Val::Bool(false) => Val::Bool(false),
                    _ if first == Val::Null => Val::Null,
                    second => second,
                }
            }
            Expr::Between {
                value,
                low,
                high,
                negated: true,
            } => {
                // value < low OR value > high, short-circuiting like RocketMQ's OR.
                let first = eval_cmp(CmpOp::Lt, value, low, props)?;
                if first == Val::Bool(true) {
                    return Ok(first);
                }
                match eval_cmp(CmpOp::Gt, value, high, props)? {
                    Val::Bool(true) => Val::Bool(true),
                    _ if first == Val::Null => Val::Null,
                    second => second,
                }
            }
            Expr::In {
                property,
                list,
                negated,
            } => match props.get(property) {
                None => Val::Null,
                Some(v) => Val::Bool(list.iter().any(|item| item == v) != *negated),
            },
        })
    }
}

/// `l op r` for the ordering operators: NULL if either side is NULL, two strings are compared
/// as doubles.
fn eval_cmp<'a>(
    op: CmpOp,
    l: &'a Expr,
    r: &'a Expr,
    props: &'a HashMap<String, String>,
) -> Eval<'a> {
    let lv = l.eval(props)?;
    if lv == Val::Null {
        return Ok(Val::Null);
    }
    let rv = r.eval(props)?;
    if rv == Val::Null {
        return Ok(Val::Null);
    }
    let ord = match (lv, rv) {
        (Val::Str(a), Val::Str(b)) => java_double_cmp(java_double(a)?, java_double(b)?),
        (a, b) => java_compare(a, b)?,
    };
    Ok(Val::Bool(op.holds(ord)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn m(expr: &str, pairs: &[(&str, &str)]) -> bool {
        SqlFilter::compile(expr)
            .unwrap_or_else(|e| panic!("{expr:?} failed to compile: {e}"))
            .matches(&props(pairs))
    }

    fn err(expr: &str) -> String {
        match SqlFilter::compile(expr) {
            Ok(f) => panic!("{expr:?} compiled to {f:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn rocketmq_doc_examples() {
        let f = SqlFilter::compile("a between 0 and 3").unwrap();
        assert!(f.matches(&props(&[("a", "0")])));
        assert!(f.matches(&props(&[("a", "3")])));
        assert!(f.matches(&props(&[("a", "2")])));
        assert!(!f.matches(&props(&[("a", "4")])));
        assert!(!f.matches(&props(&[("a", "-1")])));
        assert!(!f.matches(&props(&[])));

        let f = SqlFilter::compile("TAGS is not null and TAGS in ('TagA', 'TagB')").unwrap();
        assert!(f.matches(&props(&[("TAGS", "TagA")])));
        assert!(f.matches(&props(&[("TAGS", "TagB")])));
        assert!(!f.matches(&props(&[("TAGS", "TagC")])));
        assert!(!f.matches(&props(&[("TAGS", "taga")])));
        assert!(!f.matches(&props(&[])));

        let f = SqlFilter::compile("(a > 10 AND b = 'abc') OR c IS NULL").unwrap();
        assert!(f.matches(&props(&[("a", "11"), ("b", "abc"), ("c", "x")])));
        assert!(!f.matches(&props(&[("a", "10"), ("b", "abc"), ("c", "x")])));
        assert!(!f.matches(&props(&[("a", "11"), ("b", "abd"), ("c", "x")])));
        assert!(f.matches(&props(&[("a", "1"), ("b", "zzz")])));
        assert!(f.matches(&props(&[])));
        assert!(!f.matches(&props(&[("c", "")])));
    }

    #[test]
    fn equality_and_inequality() {
        assert!(m("a = 'x'", &[("a", "x")]));
        assert!(!m("a = 'x'", &[("a", "X")]));
        assert!(!m("a = 'x'", &[]));
        assert!(m("a <> 'x'", &[("a", "y")]));
        assert!(!m("a <> 'x'", &[("a", "x")]));
        assert!(!m("a <> 'x'", &[]), "unknown <> is unknown");
        assert!(m("'x' = a", &[("a", "x")]));
        // Numbers: the property is parsed as the literal's type.
        assert!(m("a = 10", &[("a", "10")]));
        assert!(m("a = 10", &[("a", "+10")]));
        assert!(m("a = 10", &[("a", "010")]));
        assert!(m("a = -3", &[("a", "-3")]));
        assert!(m("a = 1.5", &[("a", "1.5")]));
        assert!(m("a = 1.0", &[("a", "1")]));
        assert!(m("a = 10L", &[("a", "10")]));
        assert!(m("10 = a", &[("a", "10")]));
        assert!(m("a <> 10", &[("a", "11")]));
        // A string property against a string literal is compared as text.
        assert!(!m("a = '10'", &[("a", "10.0")]));
        assert!(m("a = '10'", &[("a", "10")]));
        // Booleans.
        assert!(m("a = TRUE", &[("a", "true")]));
        assert!(m("a = TRUE", &[("a", "TRUE")]));
        assert!(m("a = FALSE", &[("a", "no")]));
        assert!(m("TRUE = a", &[("a", "true")]));
        assert!(m("(a = 1) = TRUE", &[("a", "1")]));
        assert!(m("(a = 1) = FALSE", &[("a", "2")]));
        // Two properties, both missing: RocketMQ calls them equal.
        assert!(m("a = b", &[]));
        assert!(m("a = b", &[("a", "v"), ("b", "v")]));
        assert!(!m("a = b", &[("a", "v")]));
        assert!(!m("a = b", &[("b", "v")]));
        // Literals only.
        assert!(m("1 = 1", &[]));
        assert!(m("1 = 1.0", &[]));
        assert!(m("'a' = 'a'", &[]));
        assert!(!m("1 = TRUE", &[]));
    }

    #[test]
    fn ordering_operators() {
        let p = [("a", "5")];
        assert!(m("a > 4", &p));
        assert!(!m("a > 5", &p));
        assert!(m("a >= 5", &p));
        assert!(!m("a >= 6", &p));
        assert!(m("a < 6", &p));
        assert!(!m("a < 5", &p));
        assert!(m("a <= 5", &p));
        assert!(!m("a <= 4", &p));
        assert!(m("a > 4.5", &p));
        assert!(m("a < 5.01", &p));
        assert!(m("a > -1", &p));
        assert!(m("a > - 1", &p));
        assert!(m("4 < a", &p));
        assert!(m("a > +4", &p));
        assert!(m("a > .5", &p));
        assert!(m("a < 1e1", &p));
        assert!(m("a > 4.", &p));
        assert!(m("a < 5.5E0", &p));
        assert!(m("a >= 5L", &p));
        assert!(m("a > 0.0", &p));
        // Big longs compare exactly.
        assert!(m("a > 9007199254740992", &[("a", "9007199254740993")]));
        assert!(m("a > 1", &[("a", "3000000000")]));
        // A property that is not a long is compared with a long literal as a double (RocketMQ
        // fails there).
        assert!(m("a > 1", &[("a", "2.5")]));
        assert!(!m("a > 2", &[("a", "1.5")]));
        assert!(m("a = 1", &[("a", "1.0")]));
        assert!(m("a BETWEEN 0.5 AND 2", &[("a", "1.5")]));
        assert!(m("a BETWEEN 1 AND 2", &[("a", "1.5")]));
        // Decimal property against a decimal literal.
        assert!(m("a > 1.5", &[("a", "1.75")]));
        assert!(m("a > 1.5", &[("a", " 2 ")]), "Double.valueOf trims");
        assert!(m("a > 1.5", &[("a", "2d")]));
        // Two properties are compared as doubles.
        assert!(m("a > b", &[("a", "10"), ("b", "9.5")]));
        assert!(!m("a > b", &[("a", "10"), ("b", "10")]));
        assert!(!m("a > b", &[("a", "abc"), ("b", "1")]));
        // Literals only.
        assert!(m("1 < 2", &[]));
        assert!(m("1 < 1.5", &[]));
        assert!(!m("2.5 < 1", &[]));
    }

    #[test]
    fn unconvertible_values_filter_the_message_out() {
        // Not a number.
        assert!(!m("a > 5", &[("a", "abc")]));
        assert!(!m("a < 5", &[("a", "abc")]));
        assert!(!m("a = 5", &[("a", "abc")]));
        assert!(!m("a > 1", &[("a", "")]));
        assert!(!m("a > 1.5", &[("a", "1,5")]));
        assert!(!m("a > 1", &[("a", "0x10")]));
        // The whole evaluation fails, as in RocketMQ, whatever the rest says.
        assert!(!m("a > 5 OR TRUE", &[("a", "abc")]));
        assert!(!m("NOT (a > 5)", &[("a", "abc")]));
        assert!(!m("a <> 5", &[("a", "abc")]));
        // ...unless evaluation stops before reaching it.
        assert!(m("TRUE OR a > 5", &[("a", "abc")]));
        assert!(!m("FALSE AND a > 5", &[("a", "abc")]));
        assert!(m("NOT (FALSE AND a > 5)", &[("a", "abc")]));
    }

    #[test]
    fn between() {
        assert!(m("a BETWEEN 1 AND 3", &[("a", "1")]));
        assert!(m("a BETWEEN 1 AND 3", &[("a", "3")]));
        assert!(!m("a BETWEEN 1 AND 3", &[("a", "4")]));
        assert!(!m("a BETWEEN 1 AND 3", &[]));
        assert!(m("a BETWEEN 1 AND 1", &[("a", "1")]));
        assert!(m("a BETWEEN -1.5 AND 1.5", &[("a", "-1.5")]));
        assert!(m("a BETWEEN 0.5 AND 2", &[("a", "1.5")]));
        assert!(m(
            "a between b and c",
            &[("a", "2"), ("b", "1"), ("c", "3")]
        ));
        assert!(!m("a between b and c", &[("a", "2"), ("b", "1")]));
        assert!(m("a NOT BETWEEN 1 AND 3", &[("a", "0")]));
        assert!(m("a NOT BETWEEN 1 AND 3", &[("a", "4")]));
        assert!(!m("a NOT BETWEEN 1 AND 3", &[("a", "2")]));
        assert!(!m("a NOT BETWEEN 1 AND 3", &[("a", "1")]));
        assert!(!m("a NOT BETWEEN 1 AND 3", &[]));
        // BETWEEN binds its AND before the logical AND.
        assert!(m(
            "a BETWEEN 1 AND 3 AND b = 'x'",
            &[("a", "2"), ("b", "x")]
        ));
        assert!(!m(
            "a BETWEEN 1 AND 3 AND b = 'x'",
            &[("a", "2"), ("b", "y")]
        ));
        // Three-valued: one known-false bound decides.
        assert!(!m("a BETWEEN b AND c", &[("a", "5"), ("c", "3")]));
        assert!(m("NOT (a BETWEEN b AND c)", &[("a", "5"), ("c", "3")]));
        assert!(!m("NOT (a BETWEEN b AND c)", &[("a", "2"), ("c", "3")]));
        assert!(m("a NOT BETWEEN b AND c", &[("a", "5"), ("c", "3")]));
        assert!(!m("a NOT BETWEEN b AND c", &[("a", "2"), ("c", "3")]));
    }

    #[test]
    fn in_and_not_in() {
        let e = "a IN ('x', 'y', 'it''s')";
        assert!(m(e, &[("a", "x")]));
        assert!(m(e, &[("a", "y")]));
        assert!(m(e, &[("a", "it's")]));
        assert!(!m(e, &[("a", "z")]));
        assert!(!m(e, &[]));
        let e = "a NOT IN ('x', 'y')";
        assert!(m(e, &[("a", "z")]));
        assert!(!m(e, &[("a", "x")]));
        assert!(!m(e, &[]), "a missing property is in no list");
        assert!(m("a in ('1')", &[("a", "1")]));
        assert!(m("(a) IN ('1')", &[("a", "1")]));
        assert!(m("a IN ('')", &[("a", "")]));
        let many = "a IN ('1','2','3','4','5','6','7','8')";
        assert!(m(many, &[("a", "7")]));
        assert!(!m(many, &[("a", "9")]));
    }

    #[test]
    fn is_null_and_is_not_null() {
        assert!(m("a IS NULL", &[]));
        assert!(!m("a IS NULL", &[("a", "")]));
        assert!(m("a IS NOT NULL", &[("a", "")]));
        assert!(!m("a IS NOT NULL", &[]));
        assert!(m("a is not null and b is null", &[("a", "1")]));
        assert!(m("NOT a IS NULL", &[("a", "1")]));
        assert!(m("(a = 1) IS NULL", &[]));
        assert!(!m("(a = 1) IS NULL", &[("a", "1")]));
        assert!(m("NULL IS NULL", &[]));
    }

    #[test]
    fn logic_and_three_valued_truth() {
        let t = [("t", "1")];
        // t = 1 is TRUE, f = 1 on a missing f is NULL.
        assert!(m("t = 1 AND t = 1", &t));
        assert!(!m("t = 1 AND t = 2", &t));
        assert!(!m("t = 1 AND u = 1", &t), "TRUE AND NULL is NULL");
        assert!(!m("NOT (t = 1 AND u = 1)", &t), "NOT NULL is NULL");
        assert!(m("NOT (t = 2 AND u = 1)", &t), "FALSE AND NULL is FALSE");
        assert!(m("t = 1 OR u = 1", &t), "TRUE OR NULL is TRUE");
        assert!(!m("t = 2 OR u = 1", &t), "FALSE OR NULL is NULL");
        assert!(!m("NOT (t = 2 OR u = 1)", &t));
        assert!(m("NOT (t = 2 OR t = 3)", &t));
        assert!(!m("NOT (u = 1)", &t));
        assert!(!m("u = 1", &t));
        assert!(m("TRUE", &[]));
        assert!(!m("FALSE", &[]));
        assert!(!m("NULL", &[]));
        assert!(!m("NOT NULL", &[]));
        assert!(m("NOT FALSE", &[]));
        assert!(m("NOT NOT TRUE", &[]));
        // A property used as a condition is never TRUE (its value is a string)...
        assert!(!m("a", &[("a", "true")]));
        assert!(!m("a AND TRUE", &[("a", "true")]));
        // ...but it is known (FALSE) when present and unknown when missing.
        assert!(m("NOT a", &[("a", "true")]));
        assert!(!m("NOT a", &[]));
        assert!(m("a OR TRUE", &[]));
    }

    #[test]
    fn precedence_not_and_or() {
        // AND binds tighter than OR.
        assert!(m("a = 1 OR b = 1 AND c = 1", &[("a", "1")]));
        assert!(!m("(a = 1 OR b = 1) AND c = 1", &[("a", "1")]));
        assert!(m("a = 1 AND b = 1 OR c = 1", &[("c", "1")]));
        assert!(!m("a = 1 AND (b = 1 OR c = 1)", &[("c", "1")]));
        // NOT binds tighter than AND and OR, looser than comparisons.
        assert!(m("NOT a = 1 AND b = 1", &[("a", "2"), ("b", "1")]));
        assert!(!m("NOT a = 1 AND b = 1", &[("a", "1"), ("b", "1")]));
        assert!(!m("NOT (a = 1 AND b = 1)", &[("a", "1"), ("b", "1")]));
        assert!(m("NOT (a = 1 AND b = 2)", &[("a", "1"), ("b", "1")]));
        assert!(m("NOT a = 1 OR b = 1", &[("a", "1"), ("b", "1")]));
        assert!(!m("NOT (a = 1 OR b = 1)", &[("a", "1"), ("b", "1")]));
        assert!(m("NOT a > 5", &[("a", "3")]));
        assert!(m("NOT a IN ('x')", &[("a", "y")]));
        assert!(m("NOT a BETWEEN 1 AND 2", &[("a", "3")]));
        // Comparisons bind tighter than = on booleans.
        assert!(m("a > 1 = TRUE", &[("a", "2")]));
        assert!(m("a = 1 = FALSE", &[("a", "2")]));
    }

    #[test]
    fn keywords_are_case_insensitive_and_identifiers_are_not() {
        assert!(m(
            "a Is Not Null AnD b iN ('x') oR c bEtWeEn 1 AnD 2",
            &[("a", "1"), ("b", "x")]
        ));
        assert!(m("a = true", &[("a", "TRUE")]));
        assert!(m("a is null", &[("A", "1")]));
        assert!(m(
            "_a$1 = 'v' and $b = 'w' and UNIQ_KEY is not null",
            &[("_a$1", "v"), ("$b", "w"), ("UNIQ_KEY", "k")]
        ));
        // CONTAINS & co. are not 4.9 keywords.
        assert!(m("contains = 'x'", &[("contains", "x")]));
    }

    #[test]
    fn strings_and_comments() {
        assert!(m("a = 'it''s'", &[("a", "it's")]));
        assert!(m("a = ''''", &[("a", "'")]));
        assert!(m("a = ''", &[("a", "")]));
        assert!(m("a = 'x y AND z'", &[("a", "x y AND z")]));
        assert!(m("a = 'héllo ☃'", &[("a", "héllo ☃")]));
        assert!(m("a = 'x' -- trailing comment\n", &[("a", "x")]));
        assert!(m("a = 'x' -- trailing comment", &[("a", "x")]));
        assert!(m("/* lead */ a = /* mid */ 'x'", &[("a", "x")]));
        assert!(m("\ta\n=\r\n'x'  ", &[("a", "x")]));
    }

    #[test]
    fn negation_of_non_numbers_is_unknown() {
        assert!(!m("-a = 1", &[("a", "-1")]));
        assert!(m("-a IS NULL", &[("a", "1")]));
        assert!(m("-(-(5)) = 5", &[]));
        assert!(m("- - 5 = 5", &[]));
    }

    #[test]
    fn syntax_errors_have_clear_messages() {
        assert_eq!(err(""), "empty expression");
        assert_eq!(err("   "), "empty expression");
        assert_eq!(err("/* nothing */"), "empty expression");
        assert_eq!(
            err("(a > 10 AND b = 'abc'"),
            "syntax error at position 22: expected ')' but found the end of the expression \
             (to close the '(' at position 1)"
        );
        assert_eq!(
            err("(a > 10 b = 1)"),
            "syntax error at position 9: expected ')' but found 'b'"
        );
        assert_eq!(
            err("a > 10)"),
            "syntax error at position 7: unbalanced ')' (no matching '(')"
        );
        assert_eq!(
            err("a = 'abc"),
            "syntax error at position 5: unterminated string literal"
        );
        assert_eq!(
            err("a = 'it''s"),
            "syntax error at position 5: unterminated string literal"
        );
        assert_eq!(
            err("a != 1"),
            "syntax error at position 3: unknown operator '!=' (use '<>')"
        );
        assert_eq!(
            err("a == 1"),
            "syntax error at position 3: unknown operator '==' (use '=')"
        );
        assert_eq!(
            err("a = 1 && b = 2"),
            "syntax error at position 7: unknown operator '&&' (use AND)"
        );
        assert_eq!(
            err("a = \"x\""),
            "syntax error at position 5: unexpected character '\"' (strings are written in \
             single quotes)"
        );
        assert_eq!(
            err("a # 1"),
            "syntax error at position 3: unexpected character '#'"
        );
        assert_eq!(
            err("a LIKE 'x%'"),
            "syntax error at position 3: expected an operator or the end of the expression but \
             found 'LIKE'"
        );
        assert_eq!(
            err("a ="),
            "syntax error at position 4: expected a property, a literal or '(' but found the end \
             of the expression"
        );
        assert_eq!(
            err("a = 1 AND"),
            "syntax error at position 10: expected a property, a literal or '(' but found the \
             end of the expression"
        );
        assert_eq!(
            err("AND a = 1"),
            "syntax error at position 1: expected a property, a literal or '(' but found 'AND'"
        );
        assert_eq!(
            err("()"),
            "syntax error at position 2: expected a property, a literal or '(' but found ')'"
        );
        assert_eq!(
            err("a IS 1"),
            "syntax error at position 6: expected NULL or NOT NULL after IS but found '1'"
        );
        assert_eq!(
            err("a IS NOT 1"),
            "syntax error at position 10: expected NULL after IS NOT but found '1'"
        );
        assert_eq!(
            err("a NOT = 1"),
            "syntax error at position 7: expected BETWEEN or IN after NOT but found '='"
        );
        assert_eq!(
            err("a BETWEEN 1 OR 2"),
            "syntax error at position 13: expected AND in BETWEEN but found 'OR'"
        );
        assert_eq!(
            err("a IN 'x'"),
            "syntax error at position 6: expected '(' after IN but found 'x'"
        );
        assert_eq!(
            err("a IN ()"),
            "syntax error at position 7: expected a string literal in the IN list but found ')'"
        );
        assert_eq!(
            err("a NOT IN ('x', 1)"),
            "syntax error at position 16: expected a string literal in the NOT IN list but \
             found '1'"
        );
        assert_eq!(
            err("a IN ('x' 'y')"),
            "syntax error at position 11: expected ',' or ')' in the IN list but found 'y'"
        );
        assert_eq!(
            err("a = 1 /* open"),
            "syntax error at position 7: unterminated comment"
        );
        assert_eq!(
            err("a = 007"),
            "syntax error at position 5: invalid number '007' (leading zeros are not allowed)"
        );
        assert_eq!(
            err("a = 9223372036854775808"),
            "syntax error at position 5: integer '9223372036854775808' is out of the range of a \
             long"
        );
        assert_eq!(
            err("a = 1e999"),
            "syntax error at position 5: number '1e999' is out of range"
        );
        assert_eq!(
            err("a.b = 1"),
            "syntax error at position 2: unexpected character '.'"
        );
    }

    #[test]
    fn semantic_errors_have_clear_messages() {
        assert_eq!(
            err("a > 'abc'"),
            "invalid expression at position 5: 'abc' cannot be compared with '>' (only numbers \
             and properties can)"
        );
        assert_eq!(
            err("a <= TRUE"),
            "invalid expression at position 6: 'TRUE' cannot be compared with '<=' (only numbers \
             and properties can)"
        );
        assert_eq!(
            err("(a = 1) > 2"),
            "invalid expression at position 1: '(a = 1)' cannot be compared with '>' (only \
             numbers and properties can)"
        );
        assert_eq!(
            err("a BETWEEN 'a' AND 'z'"),
            "invalid expression at position 11: 'a' cannot be compared with BETWEEN (only \
             numbers and properties can)"
        );
        assert_eq!(
            err("a BETWEEN 3 AND 1"),
            "invalid expression at position 11: BETWEEN's lower bound '3' is greater than its \
             upper bound '1'"
        );
        assert!(SqlFilter::compile("a NOT BETWEEN 3 AND 1").is_ok());
        assert_eq!(
            err("a = NULL"),
            "invalid expression at position 5: NULL cannot be compared with '=' (use IS NULL or \
             IS NOT NULL)"
        );
        assert_eq!(
            err("a <> null"),
            "invalid expression at position 6: NULL cannot be compared with '<>' (use IS NULL or \
             IS NOT NULL)"
        );
        assert_eq!(
            err("TRUE = 'x'"),
            "invalid expression at position 1: a boolean cannot be compared with 'x'"
        );
        assert_eq!(
            err("'x' IN ('x')"),
            "invalid expression at position 1: IN needs a property on its left, not 'x'"
        );
        assert_eq!(
            err("(a = 1) NOT IN ('x')"),
            "invalid expression at position 1: NOT IN needs a property on its left, not '(a = 1)'"
        );
        assert_eq!(
            err("1"),
            "invalid expression at position 1: '1' is not a condition (it has no TRUE/FALSE \
             value)"
        );
        assert_eq!(
            err("a = 1 AND 'x'"),
            "invalid expression at position 11: 'x' is not a condition (it has no TRUE/FALSE \
             value)"
        );
        assert_eq!(
            err("NOT -a"),
            "invalid expression at position 5: '-a' is not a condition (it has no TRUE/FALSE \
             value)"
        );
    }

    #[test]
    fn hostile_expressions_are_bounded() {
        let long = format!("a = '{}'", "x".repeat(MAX_EXPRESSION_LEN));
        assert!(err(&long).starts_with("expression too long"));

        let ok = format!("{}a = 1{}", "(".repeat(30), ")".repeat(30));
        assert!(m(&ok, &[("a", "1")]));
        let deep = format!("{}a = 1{}", "(".repeat(1000), ")".repeat(1000));
        assert!(err(&deep).contains("nested too deeply"), "{}", err(&deep));
        let nots = format!("{}TRUE", "NOT ".repeat(1000));
        assert!(err(&nots).contains("nested too deeply"));
        let minus = format!("a = {}1", "- ".repeat(1000));
        assert!(err(&minus).contains("nested too deeply"));
        assert!(m(&format!("{}TRUE", "NOT ".repeat(30)), &[]));

        // Long flat chains are fine; long comparison chains are refused without recursion
        // trouble.
        let or_chain = (0..400)
            .map(|i| format!("a={i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert!(m(&or_chain, &[("a", "399")]));
        let eq_chain = format!("a = 1{}", " = TRUE".repeat(500));
        assert!(err(&eq_chain).starts_with("expression too complex"));

        // The largest accepted trees compile and evaluate on a small stack.
        std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| {
                let parens = format!("{}a = 1{}", "(".repeat(31), ")".repeat(31));
                assert!(m(&parens, &[("a", "1")]));
                let nots = format!("{}a = 1", "NOT ".repeat(30));
                assert!(m(&nots, &[("a", "1")]));
                let chain = format!("a = 1{}", " = TRUE".repeat(120));
                assert!(m(&chain, &[("a", "1")]));
                let mixed = format!(
                    "{}(a = 1{}){}",
                    "NOT (".repeat(15),
                    " = TRUE".repeat(90),
                    ")".repeat(15)
                );
                assert!(SqlFilter::compile(&mixed).is_ok());
            })
            .unwrap()
            .join()
            .unwrap();

        // Nesting at the limit in every form still evaluates.
        let nested = (0..7).fold("a = 1".to_string(), |acc, i| {
            format!("NOT (b{i} = 1 OR NOT ({acc}))")
        });
        let mut p: HashMap<String, String> =
            (0..7).map(|i| (format!("b{i}"), "0".to_string())).collect();
        p.insert("a".into(), "1".into());
        assert!(SqlFilter::compile(&nested).unwrap().matches(&p));
        p.insert("a".into(), "2".into());
        assert!(!SqlFilter::compile(&nested).unwrap().matches(&p));
    }

    #[test]
    fn java_number_parsing() {
        assert_eq!(java_double("1.5").unwrap(), 1.5);
        assert_eq!(java_double(" -2e3 ").unwrap(), -2000.0);
        assert_eq!(java_double("5.").unwrap(), 5.0);
        assert_eq!(java_double(".5f").unwrap(), 0.5);
        assert_eq!(java_double("Infinity").unwrap(), f64::INFINITY);
        assert!(java_double("NaN").unwrap().is_nan());
        assert!(java_double("inf").is_err());
        assert!(java_double("nan").is_err());
        assert!(java_double("1e").is_err());
        assert!(java_double(".").is_err());
        assert!(java_double("").is_err());
        assert!(java_double("1,5").is_err());
        assert_eq!(java_long("-42").unwrap(), -42);
        assert!(java_long("4.2").is_err());
        assert!(java_long("99999999999999999999").is_err());
    }

    #[test]
    fn filter_is_cloneable_and_reusable() {
        let f = SqlFilter::compile("a > 1").unwrap();
        let g = f.clone();
        assert!(f.matches(&props(&[("a", "2")])));
        assert!(g.matches(&props(&[("a", "2")])));
        assert!(!g.matches(&props(&[("a", "1")])));
    }
}
