package migrations_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rebound-go/rebound/store/internal/migrations"
)

func TestLoadOrdersByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_first.sql": {Data: []byte("A")},
	}
	ms, err := migrations.Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 2 || ms[0].SQL != "A" || ms[1].Name != "0010_later.sql" {
		t.Fatalf("%+v", ms)
	}
}

func TestLoadRefusesBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"not NNNN_name.sql": {"m/first.sql": {}},
		"share version 1":   {"m/0001_a.sql": {}, "m/1_b.sql": {}},
		"not NNNN_name":     {"m/0001_a.txt": {}},
	} {
		if _, err := migrations.Load(fsys, "m"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: got %v, want an error saying %q", fsys, err, name)
		}
	}
}
