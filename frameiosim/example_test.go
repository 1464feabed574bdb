package frameiosim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// A create over plain HTTP, then the recorded figures.
func Example() {
	sim := frameiosim.New(frameiosim.Config{CreateLimit: 5, Enforcement: frameiosim.SlidingWindow})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer sim.Close()

	body := `{"type":"file","name":"clip.mov","filetype":"video/quicktime","filesize":20000000}`
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"/assets/"+sim.RootFolder("dev-token")+"/children", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer dev-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var asset struct {
		Name       string   `json:"name"`
		UploadURLs []string `json:"upload_urls"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&asset)
	fmt.Println(resp.Status, asset.Name, len(asset.UploadURLs), "parts")
	fmt.Println("remaining creates:", resp.Header.Get("x-ratelimit-remaining"))
	fmt.Println("max creates in 1s:", sim.MaxCreatesInWindow("dev-token", time.Second))
	// Output:
	// 201 Created clip.mov 3 parts
	// remaining creates: 4
	// max creates in 1s: 1
}

// A V4 local upload: the server picks the media type and the part sizes;
// each part goes up with them, and /status says when Frame.io is done.
func Example_v4() {
	sim := frameiosim.New(frameiosim.Config{Enforcement: frameiosim.SlidingWindow})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer sim.Close()
	acct := "/accounts/" + frameiosim.DefaultAccount

	call := func(method, url, body string) *http.Response {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer dev-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	resp := call(http.MethodPost, sim.V4URL()+acct+"/folders/"+sim.RootFolder("dev-token")+"/files/local_upload",
		`{"data":{"name":"clip.mov","file_size":11}}`)
	var file struct {
		Data struct {
			ID         string `json:"id"`
			MediaType  string `json:"media_type"`
			UploadURLs []struct {
				Size int64  `json:"size"`
				URL  string `json:"url"`
			} `json:"upload_urls"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&file)
	resp.Body.Close()
	fmt.Println(resp.Status, file.Data.MediaType, len(file.Data.UploadURLs), "part(s); file_create limit", resp.Header.Get("x-ratelimit-limit"))

	part := file.Data.UploadURLs[0]
	req, _ := http.NewRequest(http.MethodPut, part.URL, strings.NewReader("hello, V4!!"[:part.Size]))
	req.Header.Set("Content-Type", file.Data.MediaType)
	req.Header.Set("x-amz-acl", "private")
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	put.Body.Close()

	resp = call(http.MethodGet, sim.V4URL()+acct+"/files/"+file.Data.ID+"/status", "")
	var status struct {
		Data struct {
			UploadComplete bool `json:"upload_complete"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	fmt.Println("part:", put.Status, "complete:", status.Data.UploadComplete)
	fmt.Println("max file creates in 1s:", sim.MaxInWindow("dev-token", frameiosim.RouteFileCreate, time.Second))
	// Output:
	// 201 Created video/quicktime 1 part(s); file_create limit 5
	// part: 200 OK complete: true
	// max file creates in 1s: 1
}
