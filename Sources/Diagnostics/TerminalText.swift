/// Text that came from someone else (a client-chosen name, a server's message), made safe to print
/// on a terminal: every control character (C0, DEL, C1: ESC starts the escape sequences that move
/// the cursor, clear the screen or rewrite the title), every format character (the bidirectional
/// overrides and isolates that make text read differently from how it is stored, zero-width
/// characters) and the line and paragraph separators is shown as `\u{XX}`, and a backslash as `\\`,
/// so the escaped form cannot be forged by sending it literally.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse:
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default:
                if scalar == "\\" { out += "\\\\" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
