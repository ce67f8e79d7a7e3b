import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The OpenAPI 3.1 document of the JSON API and Open311, made from the route table itself: every
/// registered `/api/` and `/open311/` route appears with its method, path parameters, the query
/// parameters it reads, who may call it (bearer token or none) and the problem document every
/// refusal carries. Being made from the table, it cannot miss a route; a test checks that, and
/// schemathesis (scripts/schemathesis.py) fuzzes a live server against it on every test run.
enum OpenAPI {
    /// Query parameters the list and report routes read (name, JSON type).
    static let queries: [String: [(String, String)]] = {
        let open311 = [("service_request_id", "string"), ("service_code", "string"), ("start_date", "string"), ("end_date", "string"),
                       ("status", "string"), ("page", "integer"), ("page_size", "integer")]
        return [
            "/api/v1/requests": [("scope", "string"), ("status", "string"), ("limit", "integer"), ("offset", "integer")],
            "/api/v1/figures": [("place_id", "integer"), ("from", "string"), ("to", "string")],
            "/api/v1/matters": [("status", "string"), ("limit", "integer"), ("offset", "integer")],
            "/api/v1/residents": [("q", "string")],
            "/api/v1/map-points": [("place_id", "integer"), ("household_id", "integer")],
            "/api/v1/audit": [("before", "integer")],
            "/api/v1/ledger/{id}": [("before", "integer")],
            "/api/v1/tasks/{id}": [("month", "string")],
            "/api/v1/grid-tasks": [("community", "integer")],
            "/api/v1/grid-tasks/{id}": [("grid", "integer")],
            "/api/v1/patrol-routes": [("community", "integer"), ("retired", "string")],
            "/api/v1/figures/months": [("place_id", "integer"), ("from", "string"), ("to", "string"), ("months", "integer")],
            "/api/v1/dashboard/{id}": [("from", "string"), ("to", "string")],
            "/api/v1/affairs-measures": [("place_id", "integer"), ("from", "string"), ("to", "string")],
            "/api/v1/announcements": [("community", "integer")],
            "/api/v1/binds": [("all", "string")],
            "/api/v1/canteens/{id}/kitchen": [("day", "string")],
            "/api/v1/canteens/{id}/settlement": [("month", "string")],
            "/api/v1/departments/{id}": [("period", "string")],
            "/api/v1/rankings/{id}": [("period", "string")],
            "/api/v1/needs": [("uncovered", "string")],
            "/api/v1/pick/grids": [("q", "string")], "/api/v1/pick/households": [("q", "string")],
            "/api/v1/pick/organisations": [("q", "string")], "/api/v1/pick/owners": [("q", "string"), ("within", "integer")],
            "/api/v1/pick/places": [("q", "string")], "/api/v1/pick/residents": [("q", "string")],
            "/api/v1/places/{id}/circle": [("lat", "number"), ("lng", "number"), ("proposed_kind", "string")],
            "/api/v1/places/{id}/needs": [("from_month", "string"), ("to_month", "string")],
            "/api/v1/places/{id}/owners": [("q", "string")],
            "/api/v1/places/{id}/situation/requests": [("category", "string"), ("from", "string"), ("to", "string"), ("open", "string")],
            "/api/v1/places/{id}/situation/uncovered": [("place", "integer")],
            "/api/v1/public/communities": [("q", "string")],
            "/api/v1/relatives": [("pending", "string")],
            "/api/v1/visits/due": [("grid", "integer"), ("all", "string")],
            "/api/v1/visits/unread-notices": [("community", "integer"), ("grid", "integer")],
            "/open311/v2/requests.json": open311, "/open311/v2/requests.xml": open311,
        ]
    }()

    /// API routes that answer with something other than JSON.
    static let answers: [String: String] = ["/api/v1/communities/{id}/export": "text/csv"]

    static func openAPIPath(_ path: String) -> (String, [String]) {
        var names: [String] = []
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            guard part.hasPrefix(":") else { return String(part) }
            names.append(String(part.dropFirst()))
            return "{\(part.dropFirst())}"
        }
        return (parts.joined(separator: "/"), names)
    }

    static func document(_ routes: [RouteDeclaration], baseURL: String) -> [String: Any] {
        let problem: [String: Any] = [
            "type": "object", "required": ["type", "title", "status", "detail", "code"],
            "properties": ["type": ["type": "string"], "title": ["type": "string"], "status": ["type": "integer"], "detail": ["type": "string"],
                           "code": ["type": "string"], "field": ["type": ["string", "null"]], "errors": ["type": ["array", "null"]]],
        ]
        var paths: [String: [String: Any]] = [:]
        for r in routes where r.path.hasPrefix("/api/") || r.path.hasPrefix("/open311/") {
            let (path, names) = openAPIPath(r.path)
            let method = r.method.rawValue.lowercased()
            var op: [String: Any] = ["operationId": method + path.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")
                                        .replacingOccurrences(of: ".", with: "_").replacingOccurrences(of: "-", with: "_")]
            var parameters: [[String: Any]] = []
            for n in names {
                let schema: [String: Any] = n == "id" || n.hasSuffix("id") ? ["type": "integer", "minimum": 1] : ["type": "string"]
                parameters.append(["name": n, "in": "path", "required": true, "schema": schema])
            }
            for (q, type) in queries[path] ?? [] where r.method == .get {
                let schema: [String: Any] = ["type": type]
                parameters.append(["name": q, "in": "query", "required": false, "schema": schema])
            }
            if !parameters.isEmpty { op["parameters"] = parameters }
            switch r.access {
            case .open: op["security"] = [[String: Any]]()
            case .signedIn: op["description"] = "Any signed-in user."
            case .action(let a): op["description"] = "Needs a role that may \(a.rawValue); objects outside the caller's scope answer 404."
            }
            if r.path.hasPrefix("/open311/"), r.method == .post {
                let schema: [String: Any] = ["type": "object", "additionalProperties": ["type": "string"]]
                // The photo comes as a `media` part (Linli fetches no `media_url`).
                let withMedia: [String: Any] = ["type": "object", "properties": ["media": ["type": "string", "format": "binary"]],
                                                "additionalProperties": ["type": "string"]]
                let content: [String: Any] = ["application/x-www-form-urlencoded": ["schema": schema], "multipart/form-data": ["schema": withMedia]]
                op["requestBody"] = ["required": false, "content": content] as [String: Any]
            } else if !r.rawBody.isEmpty {
                var content: [String: Any] = [:]
                for type in r.rawBody { content[type] = ["schema": ["type": "string", "format": "binary"]] }
                op["requestBody"] = ["required": true, "content": content] as [String: Any]
            } else if let body = r.body {
                // A JSON body is described by the type the route decodes (see `BodySchema`).
                let content: [String: Any] = ["application/json": ["schema": body.jsonSchema]]
                op["requestBody"] = ["required": !r.bodyOptional, "content": content] as [String: Any]
            }
            let anything: [String: Any] = [:]
            let json: [String: Any] = r.path.hasSuffix(".xml") ? ["text/xml": anything]
                : answers[path].map { [$0: ["schema": ["type": "string"]]] } ?? ["application/json": ["schema": anything]]
            let refusal: [String: Any] = r.path.hasPrefix("/open311/") ? json : ["application/problem+json": ["schema": problem]]
            let ok: [String: Any] = ["description": "Done", "content": json]
            let refused: [String: Any] = ["description": "Refused: the problem names the field and the reason", "content": refusal]
            op["responses"] = ["2XX": ok, "204": ["description": "Done; nothing to answer"] as [String: Any], "4XX": refused] as [String: Any]
            paths[path, default: [:]][method] = op
        }
        addLinks(&paths)
        return [
            "openapi": "3.1.0",
            "info": ["title": "邻里 Linli API", "version": "1", "description": "The JSON API of Linli and GeoReport v2 (Open311). Errors are RFC 9457 problem documents naming the field at fault."],
            "servers": [["url": baseURL]],
            "components": ["securitySchemes": ["bearer": ["type": "http", "scheme": "bearer", "description": "linli user token NAME, or POST /api/v1/tokens"]]],
            "security": [["bearer": [String]()]],
            "paths": paths,
        ]
    }

    /// Links from each route that creates an object (`POST /api/v1/matters`, answering its `id`)
    /// to the routes of that object (`/api/v1/matters/{id}…`), so that schemathesis's stateful
    /// phase walks real objects rather than made-up ids.
    static func addLinks(_ paths: inout [String: [String: Any]]) {
        for (collection, ops) in paths where collection.hasPrefix("/api/") && !collection.hasSuffix("}") {
            guard var create = ops["post"] as? [String: Any], var responses = create["responses"] as? [String: Any],
                  var ok = responses["2XX"] as? [String: Any] else { continue }
            var links: [String: Any] = [:]
            for (path, targets) in paths where path.hasPrefix(collection + "/{id}") {
                for (_, target) in targets {
                    guard let id = (target as? [String: Any])?["operationId"] as? String else { continue }
                    links[id] = ["operationId": id, "parameters": ["path.id": "$response.body#/id"]] as [String: Any]
                }
            }
            guard !links.isEmpty else { continue }
            ok["links"] = links
            responses["2XX"] = ok
            create["responses"] = responses
            paths[collection]?["post"] = create
        }
    }

    static func bytes(_ routes: [RouteDeclaration], baseURL: String) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: document(routes, baseURL: baseURL), options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }
}
