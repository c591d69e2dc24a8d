package fakellm

// AppendSSE appends one server-sent event to b: an "event: NAME" line when name is not empty
// (CR and LF in name are dropped, as a name cannot span lines), one "data: " line per line of
// data (LF, CRLF and CR all end a line, as the SSE grammar says), and the blank line that ends
// the event. A client's SSE decoder reads back name and data with line ends turned into LF.
func AppendSSE(b []byte, name string, data []byte) []byte {
	if name != "" {
		b = append(b, "event: "...)
		for i := 0; i < len(name); i++ {
			if c := name[i]; c != '\n' && c != '\r' {
				b = append(b, c)
			}
		}
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			b = append(b, "\ndata: "...)
		case '\n':
			b = append(b, "\ndata: "...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '\n', '\n')
}

// sseEvent is one event of a stream before it is written.
type sseEvent struct {
	name string // "" for data-only frames (OpenAI)
	data []byte
}
