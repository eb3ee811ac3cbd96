package store

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestReadFrameLarge: frames above frameChunk arrive whole; a frame cut
// short (a peer announcing a large frame and stalling or hanging up) is an
// error, not a buffer of the announced size.
func TestReadFrameLarge(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), (3*frameChunk+5)/16)
	tests := []struct {
		name    string
		frame   []byte
		wantErr bool
	}{
		{"small", appendFrame(nil, 7, 1, []byte("hello")), false},
		{"large", appendFrame(nil, 7, 1, payload), false},
		{"cut short", appendFrame(nil, 7, 1, payload)[:frameChunk+100], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, code, got, err := readFrame(bufio.NewReader(bytes.NewReader(tt.frame)), 4*frameChunk)
			if tt.wantErr {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("readFrame = %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			if err != nil || id != 7 || code != 1 || !bytes.Equal(got, tt.frame[rpcHeaderLen:]) {
				t.Fatalf("readFrame = %d, %d, %d bytes, %v", id, code, len(got), err)
			}
		})
	}
}
