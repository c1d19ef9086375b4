//! Thin entry point: parse, run, map to the exit code. Never a panic or a stack trace for the user.

use clap::Parser;
use preflight::{app, cli::Cli, exit};

fn main() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(std::string::ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("ack-edge-preflight: internal error: {msg}{at} (please report this)");
    }));
    let code = std::panic::catch_unwind(|| {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if args
            .get(1)
            .is_some_and(|a| a == preflight::cli::GENERATE_ASSETS)
        {
            let Some(dir) = args.get(2).filter(|_| args.len() == 3) else {
                eprintln!(
                    "ack-edge-preflight: usage: ack-edge-preflight {} DIR",
                    preflight::cli::GENERATE_ASSETS
                );
                return exit::USAGE;
            };
            return match app::generate_assets(std::path::Path::new(dir)) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("ack-edge-preflight: error: {e}");
                    e.exit_code()
                }
            };
        }
        let cli = match Cli::try_parse() {
            Ok(c) => c,
            Err(e) => {
                use clap::error::ErrorKind;
                if matches!(
                    e.kind(),
                    ErrorKind::DisplayHelp
                        | ErrorKind::DisplayVersion
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                ) {
                    let _ = e.print();
                    return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::USAGE
                    } else {
                        exit::OK
                    };
                }
                let text = e.render().to_string();
                // clap's first paragraph, folded onto one line
                let para: Vec<&str> = text
                    .lines()
                    .skip_while(|l| l.trim().is_empty())
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                let line = if para.is_empty() {
                    "invalid arguments".to_string()
                } else {
                    para.join(" ")
                };
                eprintln!("ack-edge-preflight: {line} (see --help)");
                return exit::USAGE;
            }
        };
        match app::run(&cli) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ack-edge-preflight: error: {e}");
                e.exit_code()
            }
        }
    });
    std::process::exit(code.unwrap_or(exit::INTERNAL));
}
