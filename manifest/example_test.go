package manifest_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/frameq/frameq/manifest"
)

func ExampleParse() {
	in := `# day 1
{"file": "day1/A001.mov", "parent_id": "f-123"}
{"url": "https://cdn.example.com/B002.mxf?sig=x", "parent_id": "f-123", "path": "Day 1/B002.mxf", "size": 1048576}
`
	entries, err := manifest.Parse(strings.NewReader(in), manifest.JSONL)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		fmt.Println(e.Line, e.File+e.URL, "->", e.ParentID+"/"+e.Path, e.Size, e.TokenRef)
	}
	// Output:
	// 2 day1/A001.mov -> f-123/A001.mov 0 default
	// 3 https://cdn.example.com/B002.mxf?sig=x -> f-123/Day 1/B002.mxf 1048576 default
}

func ExampleErrors() {
	in := "file,parent_id,size\na.mov,f-123,12kb\nb.mov,,\n"
	_, err := manifest.Parse(strings.NewReader(in), manifest.CSV)
	var bad *manifest.Errors
	if errors.As(err, &bad) {
		for _, e := range *bad {
			fmt.Printf("%d %s: %v\n", e.Line, e.Field, e)
		}
	}
	// Output:
	// 2 size: line 2: field size: "12kb" is not an integer
	// 3 parent_id: line 3: field parent_id: missing
}
