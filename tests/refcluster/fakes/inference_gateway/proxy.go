// Data plane: route matching, the ext_proc exchange with the endpoint picker, and forwarding.

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extproc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func hostMatches(patterns []string, host string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == host || (strings.HasPrefix(p, "*.") && strings.HasSuffix(host, p[1:])) {
			return true
		}
	}
	return false
}

func pathMatches(r rule, path string) bool {
	if r.pathType == "Exact" {
		return path == r.path
	}
	prefix := strings.TrimSuffix(r.path, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

func (g *gateway) match(req *http.Request) (rule, poolTarget, bool) {
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, r := range g.tab.rules {
		if !hostMatches(g.tab.hosts[r.routeKey], host) || !pathMatches(r, req.URL.Path) {
			continue
		}
		ok := true
		for _, h := range r.headers {
			if req.Header.Get(h.name) != h.value {
				ok = false
				break
			}
		}
		if ok {
			return r, g.tab.pools[r.poolNS+"/"+r.pool], true
		}
	}
	return rule{}, poolTarget{}, false
}

func (g *gateway) conn(addr string) (*grpc.ClientConn, error) {
	g.connMu.Lock()
	defer g.connMu.Unlock()
	if c, ok := g.conns[addr]; ok {
		return c, nil
	}
	// The picker serves TLS with a self-signed certificate, as Envoy's upstream configuration
	// accepts it (no verification).
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}))) // #nosec G402 -- matches the upstream Envoy config
	if err != nil {
		return nil, err
	}
	g.conns[addr] = c
	return c, nil
}

func headerMap(h http.Header, extra map[string]string) *corev3.HeaderMap {
	hm := &corev3.HeaderMap{}
	for k, v := range extra {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	for k, vs := range h {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: strings.ToLower(k), RawValue: []byte(strings.Join(vs, ","))})
	}
	return hm
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("content-type", "text/plain")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

type pickResult struct {
	immediate *extproc.ImmediateResponse
	endpoint  string
	setHeader map[string]string
	body      []byte
}

// pick runs the request phase of one ext_proc stream.
func pick(stream extproc.ExternalProcessor_ProcessClient, req *http.Request, body []byte) (pickResult, error) {
	res := pickResult{setHeader: map[string]string{}}
	pseudo := map[string]string{":method": req.Method, ":path": req.URL.RequestURI(), ":authority": req.Host, ":scheme": "http"}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestHeaders{RequestHeaders: &extproc.HttpHeaders{Headers: headerMap(req.Header, pseudo)}}}); err != nil {
		return res, err
	}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestBody{RequestBody: &extproc.HttpBody{Body: body, EndOfStream: true}}}); err != nil {
		return res, err
	}
	var newBody []byte
	for {
		resp, err := stream.Recv()
		if err != nil {
			return res, err
		}
		switch r := resp.Response.(type) {
		case *extproc.ProcessingResponse_ImmediateResponse:
			res.immediate = r.ImmediateResponse
			return res, nil
		case *extproc.ProcessingResponse_RequestHeaders:
			for _, h := range r.RequestHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
				v := string(h.GetHeader().GetRawValue())
				if v == "" {
					v = h.GetHeader().GetValue()
				}
				res.setHeader[strings.ToLower(h.GetHeader().GetKey())] = v
			}
			if md := resp.GetDynamicMetadata(); md != nil {
				if lb := md.GetFields()[metadataLBKey].GetStructValue(); lb != nil {
					if v := lb.GetFields()[destinationKey].GetStringValue(); v != "" {
						res.endpoint = v
					}
				}
			}
			if res.endpoint == "" {
				res.endpoint = res.setHeader[destinationKey]
			}
		case *extproc.ProcessingResponse_RequestBody:
			mut := r.RequestBody.GetResponse().GetBodyMutation()
			if s := mut.GetStreamedResponse(); s != nil {
				newBody = append(newBody, s.GetBody()...)
				if !s.GetEndOfStream() {
					continue
				}
			} else if b := mut.GetBody(); b != nil {
				newBody = b
			} else {
				newBody = body
			}
			res.body = newBody
			// Several endpoints may be named (fallbacks): the first is the choice.
			res.endpoint = strings.TrimSpace(strings.Split(res.endpoint, ",")[0])
			return res, nil
		}
	}
}

var hopByHop = map[string]bool{"connection": true, "keep-alive": true, "transfer-encoding": true, "upgrade": true, "content-length": true, "te": true, "trailer": true, "proxy-connection": true}

func (g *gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r, target, ok := g.match(req)
	if !ok {
		fail(w, http.StatusNotFound, "no route")
		return
	}
	if r.pool == "" {
		fail(w, http.StatusInternalServerError, "backend not served by this fake")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err != nil {
		fail(w, http.StatusBadRequest, "cannot read body")
		return
	}
	if target.picker == "" {
		log.Printf("%s %s pool %s/%s: no endpoint picker (%s)", req.Method, req.URL.Path, r.poolNS, r.pool, target.failureMode)
		fail(w, http.StatusServiceUnavailable, "endpoint picker unavailable ("+target.failureMode+"; FailOpen is not implemented by this fake)")
		return
	}
	conn, err := g.conn(target.picker)
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "endpoint picker unavailable: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), upstreamTimeout)
	defer cancel()
	pctx, pcancel := context.WithTimeout(ctx, pickerTimeout)
	stream, err := extproc.NewExternalProcessorClient(conn).Process(ctx)
	var res pickResult
	if err == nil {
		done := make(chan struct{})
		go func() {
			select {
			case <-pctx.Done():
				if pctx.Err() == context.DeadlineExceeded {
					cancel()
				}
			case <-done:
			}
		}()
		res, err = pick(stream, req, body)
		close(done)
	}
	pcancel()
	if err != nil {
		log.Printf("%s %s pool %s/%s: endpoint picker %s failed: %v", req.Method, req.URL.Path, r.poolNS, r.pool, target.picker, err)
		fail(w, http.StatusServiceUnavailable, "endpoint picker unavailable (FailClose)")
		return
	}
	if res.immediate != nil {
		code := int(res.immediate.GetStatus().GetCode())
		if code == 0 {
			code = http.StatusInternalServerError
		}
		for _, h := range res.immediate.GetHeaders().GetSetHeaders() {
			w.Header().Set(h.GetHeader().GetKey(), string(h.GetHeader().GetRawValue()))
		}
		log.Printf("%s %s pool %s/%s: picker answered %d itself", req.Method, req.URL.Path, r.poolNS, r.pool, code)
		w.WriteHeader(code)
		_, _ = w.Write(res.immediate.GetBody())
		_ = stream.CloseSend()
		return
	}
	if res.endpoint == "" {
		fail(w, http.StatusServiceUnavailable, "endpoint picker named no endpoint")
		_ = stream.CloseSend()
		return
	}
	up, err := http.NewRequestWithContext(ctx, req.Method, "http://"+res.endpoint+req.URL.RequestURI(), bytes.NewReader(res.body))
	if err != nil {
		fail(w, http.StatusBadGateway, err.Error())
		return
	}
	for k, vs := range req.Header {
		if !hopByHop[strings.ToLower(k)] {
			up.Header[k] = vs
		}
	}
	for k, v := range res.setHeader {
		if !hopByHop[k] && !strings.HasPrefix(k, ":") {
			up.Header.Set(k, v)
		}
	}
	up.Host = req.Host
	resp, err := g.upstream.Do(up)
	if err != nil {
		log.Printf("%s %s pool %s/%s -> %s: %v", req.Method, req.URL.Path, r.poolNS, r.pool, res.endpoint, err)
		fail(w, http.StatusBadGateway, "upstream "+res.endpoint+": "+err.Error())
		_ = stream.CloseSend()
		return
	}
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	log.Printf("%s %s pool %s/%s -> %s: %d", req.Method, req.URL.Path, r.poolNS, r.pool, res.endpoint, resp.StatusCode)
	// The response phase, as Envoy sends it; the picker accounts the request with it.
	outBody := respBody
	setResp := map[string]string{}
	if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extproc.HttpHeaders{Headers: headerMap(resp.Header, map[string]string{":status": strconv.Itoa(resp.StatusCode)})}}}); err == nil {
		if err := stream.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseBody{ResponseBody: &extproc.HttpBody{Body: respBody, EndOfStream: true}}}); err == nil {
			outBody = responsePhase(stream, respBody, setResp)
		}
	}
	_ = stream.CloseSend()
	for k, vs := range resp.Header {
		if !hopByHop[strings.ToLower(k)] {
			w.Header()[k] = vs
		}
	}
	for k, v := range setResp {
		if !hopByHop[k] && !strings.HasPrefix(k, ":") {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(outBody)
}

func responsePhase(stream extproc.ExternalProcessor_ProcessClient, body []byte, set map[string]string) []byte {
	var out []byte
	for {
		resp, err := stream.Recv()
		if err != nil {
			return body
		}
		switch r := resp.Response.(type) {
		case *extproc.ProcessingResponse_ResponseHeaders:
			for _, h := range r.ResponseHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
				set[strings.ToLower(h.GetHeader().GetKey())] = string(h.GetHeader().GetRawValue())
			}
		case *extproc.ProcessingResponse_ResponseBody:
			mut := r.ResponseBody.GetResponse().GetBodyMutation()
			if s := mut.GetStreamedResponse(); s != nil {
				out = append(out, s.GetBody()...)
				if s.GetEndOfStream() {
					return out
				}
				continue
			}
			if b := mut.GetBody(); b != nil {
				return b
			}
			return body
		default:
			return body
		}
	}
}
