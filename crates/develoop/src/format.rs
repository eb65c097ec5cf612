//! How the develoop shows things, as jurigged does: call signatures and durations.

/// One argument as shown in a signature.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// Numbers, bools and None: their str.
    Plain(String),
    /// Strings: their repr, cut to 12 characters and `...` when longer than 15.
    Text(String),
    /// Functions: `<function qualname>`.
    Function(String),
    /// Anything else: `<TypeName>`.
    Other(String),
}

impl Shown {
    pub fn render(&self) -> String {
        match self {
            Shown::Plain(text) => text.clone(),
            Shown::Text(repr) => {
                if repr.chars().count() > 15 {
                    let cut: String = repr.chars().take(12).collect();
                    format!("{cut}...")
                } else {
                    repr.clone()
                }
            }
            Shown::Function(qualname) => format!("<function {qualname}>"),
            Shown::Other(type_name) => format!("<{type_name}>"),
        }
    }
}

/// `qualname(arg, arg, key=arg)`.
pub fn signature(qualname: &str, args: &[Shown], kwargs: &[(String, Shown)]) -> String {
    let mut parts: Vec<String> = args.iter().map(Shown::render).collect();
    parts.extend(
        kwargs
            .iter()
            .map(|(key, value)| format!("{key}={}", value.render())),
    );
    format!("{qualname}({})", parts.join(", "))
}

/// `<1ms`, `57ms`, `1.234s`, `12.3s`, `1m5s`, `1h2m3s`.
pub fn duration(seconds: f64) -> String {
    if seconds < 0.001 {
        "<1ms".into()
    } else if seconds < 1.0 {
        format!("{}ms", (seconds * 1000.0) as u64)
    } else if seconds < 10.0 {
        format!("{seconds:.3}s")
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let total = seconds as u64;
        let (hours, minutes, secs) = (total / 3600, total % 3600 / 60, total % 60);
        if hours > 0 {
            format!("{hours}h{minutes}m{secs}s")
        } else {
            format!("{minutes}m{secs}s")
        }
    }
}

/// A basic-interface rule: `---- #3: text ` padded with `-` to 50 characters.
pub fn rule(number: usize, text: &str) -> String {
    let head = format!("---- #{number}: {text} ");
    let width = head.chars().count();
    if width >= 50 {
        head
    } else {
        format!("{head}{}", "-".repeat(50 - width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_like_jurigged() {
        let args = [
            Shown::Plain("3".into()),
            Shown::Text("'aaaaaaaaaaaaaaaaaa'".into()),
            Shown::Text("'short'".into()),
            Shown::Function("helper".into()),
            Shown::Other("Foo".into()),
        ];
        let kwargs = [("flag".to_string(), Shown::Plain("True".into()))];
        assert_eq!(
            signature("Foo.method", &args, &kwargs),
            "Foo.method(3, 'aaaaaaaaaaa..., 'short', <function helper>, <Foo>, flag=True)"
        );
    }

    #[test]
    fn durations_like_jurigged() {
        let cases = [
            (0.0004, "<1ms"),
            (0.057, "57ms"),
            (1.2345, "1.234s"),
            (12.34, "12.3s"),
            (65.0, "1m5s"),
            (3723.0, "1h2m3s"),
        ];
        for (seconds, text) in cases {
            assert_eq!(duration(seconds), text);
        }
    }

    #[test]
    fn rules_are_fifty_wide() {
        let line = rule(1, "compute(0)");
        assert_eq!(line, format!("---- #1: compute(0) {}", "-".repeat(30)));
        assert_eq!(line.chars().count(), 50);
    }
}
